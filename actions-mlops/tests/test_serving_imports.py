"""The service imports only what its bento installs, and nothing that only training needs."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from actions_mlops.release.package import build_options
from actions_mlops.release.registry import RegistryError
from conftest import PLATFORM, ROOT

PACKAGE = "actions_mlops"
# Training, validation, Parquet and registry code: none of it belongs in the image.
TRAINING_ONLY = {"pandera", "pyarrow", "dvc", "gto", "matplotlib"}
# The parts of the package the image carries (bentofile.yaml's include): no other part.
BENTO_PARTS = ("core", "data.contract", "serving")


class Imports(ast.NodeVisitor):
    """The modules a file imports when it runs (not those under `if TYPE_CHECKING:`)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.level == 0:
            self.names.add(node.module)
            self.names.update(f"{node.module}.{alias.name}" for alias in node.names)


def module_file(dotted: str) -> Path | None:
    """The file of one of the project's modules (`serving.service`), None for other names."""
    path = PLATFORM / "src" / PACKAGE / Path(*dotted.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def service_imports() -> tuple[set[str], set[str]]:
    """(the project's modules, the top-level third-party modules) the service imports, following
    the project's own modules."""
    own: set[str] = set()
    third_party: set[str] = set()
    pending = ["serving.service"]
    while pending:
        module = pending.pop()
        file = module_file(module)
        if module in own or file is None:
            continue
        own.add(module)
        visitor = Imports()
        visitor.visit(ast.parse(file.read_text()))
        for name in visitor.names:
            top, _, rest = name.partition(".")
            if top == PACKAGE:
                pending.append(rest)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return own, third_party


def test_the_service_imports_no_training_code():
    own, third_party = service_imports()
    assert {"serving.service", "core.config", "data.contract"} <= own  # the modules were found
    outside = {m for m in own if not m.startswith(BENTO_PARTS) and m.partition(".")[2]}
    assert not outside, f"the service imports {sorted(outside)}: only {BENTO_PARTS} go in the image"
    assert not third_party & TRAINING_ONLY


def test_the_bento_carries_every_module_the_service_imports():
    include = yaml.safe_load((ROOT / "bentofile.yaml").read_text())["include"]
    own, _ = service_imports()
    for module in own:
        found = module_file(module)
        assert found is not None, f"{module} is no module of the package"
        path = found.relative_to(PLATFORM / "src").as_posix()
        assert any(fnmatch(path, pattern) for pattern in include), f"bentofile.yaml: add {path}"


def test_the_bento_installs_every_package_the_service_imports():
    options = build_options(ROOT / "bentofile.yaml", ROOT / "uv.lock")
    installed = {canonicalize_name(Requirement(pin).name) for pin in options["python"]["packages"]}
    assert not installed & TRAINING_ONLY
    distributions = packages_distributions()
    _, third_party = service_imports()
    for module in third_party:
        names = {canonicalize_name(name) for name in distributions[module]}
        assert names & installed, f"the service imports {module}; the bento does not install it"


def test_every_package_comes_pinned_from_the_lock(tmp_path):
    options = build_options(ROOT / "bentofile.yaml", ROOT / "uv.lock")
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    locked = {f"{package['name']}=={package['version']}" for package in lock["package"]}
    assert all(pin in locked for pin in options["python"]["packages"])
    # A lock without the serving packages (a dependency added without `make lock`).
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    (tmp_path / "uv.lock").write_text(
        'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n\n'
        '[[package]]\nname = "x"\nversion = "0"\nsource = { virtual = "." }\n'
    )
    with pytest.raises(RegistryError, match=r"no pin for .*numpy.*: `make lock`"):
        build_options(ROOT / "bentofile.yaml", tmp_path / "uv.lock")
    with pytest.raises(RegistryError, match=r"missing\.lock is missing: `make lock`"):
        build_options(ROOT / "bentofile.yaml", tmp_path / "missing.lock")
    bentofile = tmp_path / "bentofile.yaml"
    bentofile.write_text("python:\n  packages: [no-such-package]\n")
    with pytest.raises(RegistryError, match="no-such-package is not installed"):
        build_options(bentofile, ROOT / "uv.lock")


def test_importing_the_service_modules_loads_no_training_stack():
    """pyarrow aside: pandas imports it whenever it is installed, as it is here."""
    own, _ = service_imports()
    own.discard("serving.service")  # importing it loads a model from the store
    watched = sorted(TRAINING_ONLY - {"pyarrow"})
    code = [f"import {PACKAGE}.{module}" for module in sorted(own)]
    code.append(f"import sys; print(sorted(set({watched!r}) & set(sys.modules)))")
    loaded = subprocess.run(
        [sys.executable, "-c", "\n".join(code)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert loaded.stdout.strip() == "[]"
