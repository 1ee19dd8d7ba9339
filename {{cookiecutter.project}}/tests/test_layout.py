"""The package's shape: imports go one way between its parts, and each DVC stage depends on
exactly the modules it imports (so an edit reruns the stages it can change, and no others)."""

import ast
import shlex
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package }} import cli

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "{{ cookiecutter.package }}"
NAME = PACKAGE.name
# part -> the parts it may import. Serving loads a model and answers requests: it may not
# import training, release or monitoring code (the image carries core, data and serving only).
# Release checks the service's fast path (serving/fastpath.py) before it packages a model.
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "training": {"core", "data"},
    "release": {"core", "data", "training", "serving"},
    "serving": {"core", "data"},
    "monitoring": {"core", "data", "training", "release", "serving"},
}


def module_file(name: str) -> Path | None:
    """The file of a dotted module name of this package, or None (a name, not a module)."""
    path = PACKAGE.parent.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported(path: Path) -> set[Path]:
    """The package's modules `path` imports directly."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(NAME):
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name.startswith(NAME)]
        else:
            continue
        found |= {file for file in map(module_file, names) if file is not None}
    return found


def closure(path: Path) -> set[Path]:
    """`path` and every module it imports, directly or not; package __init__ files left out."""
    seen: set[Path] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += imported(current)
    return {file for file in seen if file.name != "__init__.py"}


def part(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else "(top)"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.stem)
def test_imports_go_one_way(path):
    here = part(path)
    if here == "(top)":  # cli, checks: the entry points see everything
        return
    wrong = sorted(
        str(target.relative_to(PACKAGE))
        for target in imported(path)
        if part(target) != here and part(target) not in ALLOWED[here]
    )
    assert not wrong, f"{here} may import only {sorted(ALLOWED[here])}, not {wrong}"


def stage_code(command: str) -> set[Path]:
    """The module files a stage's command runs: its step's module and all it imports."""
    step = shlex.split(command)[3]
    module = module_file(f"{NAME}.{cli.STEPS[step][0]}")
    assert module is not None, f"cli.STEPS[{step!r}] names no module of the package"
    return closure(module)


def test_each_stage_depends_on_exactly_the_code_it_imports():
    """Read from dvc.yaml itself, so it holds before `git init` too (init_git=no)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        code = {ROOT / dep for dep in stage.get("deps", []) if str(dep).endswith(".py")}
        wanted = stage_code(stage["cmd"])
        missing = sorted(str(p.relative_to(ROOT)) for p in wanted - code)
        extra = sorted(str(p.relative_to(ROOT)) for p in code - wanted)
        assert not missing, f"dvc.yaml stage {name}: add deps {missing} (it imports them)"
        assert not extra, f"dvc.yaml stage {name}: remove deps {extra} (not imported)"
