"""The package's shape: imports go one way between its parts, and each DVC stage of a project
is one step of the CLI that depends on the project's own code, not the platform's."""

import ast
import shlex
from pathlib import Path

import pytest
import yaml

from actions_mlops import cli
from conftest import PLATFORM, ROOT

PACKAGE = PLATFORM / "src" / "actions_mlops"
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
    "github": {"core", "release"},
    "site": {"core", "training", "release"},
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


def test_each_stage_runs_a_step_and_depends_on_the_project_s_own_code_only():
    """A stage's command is one step of the CLI; its code deps are the project's files (its
    features), never the platform's: a new actions-mlops version is a lock change, not a stage
    input (its CHANGELOG says when to rerun a stage). Read from dvc.yaml itself."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        command = shlex.split(stage["cmd"])
        assert command[:3] == ["python", "-m", NAME], f"dvc.yaml stage {name}: {stage['cmd']}"
        assert command[3] in cli.STEPS, f"dvc.yaml stage {name}: no step {command[3]!r}"
        code = [dep for dep in stage.get("deps") or [] if str(dep).endswith(".py")]
        assert all((ROOT / dep).is_file() and dep.startswith("src/") for dep in code), code
