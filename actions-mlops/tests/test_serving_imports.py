"""The service imports only what its bento installs, and nothing that only training needs."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from importlib.metadata import packages_distributions

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from actions_mlops.core.typed import ConfigError
from actions_mlops.release import bentofile
from actions_mlops.release.package import build_options
from actions_mlops.release.registry import RegistryError
from conftest import PACKAGE as EXAMPLE_PACKAGE
from conftest import ROOT

PACKAGE = "actions_mlops"
# Training, validation, Parquet and registry code: none of it belongs in the image.
TRAINING_ONLY = {"pandera", "pyarrow", "dvc", "gto", "matplotlib"}
# The parts of the package the image carries (bentofile.yaml's include): no other part.
BENTO_PARTS = ("core", "data.contract", "serving")


def service_imports() -> tuple[set[str], set[str]]:
    """(the package's modules, the top-level third-party modules) the service imports, read
    from the installed package (release/bentofile.py, which `make check-config` uses too)."""
    own, third_party = bentofile.service_imports()
    assert "serving.service" in own and len(own) > 5, own  # the package's files were found
    assert "bentoml" in third_party, third_party
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
        found = bentofile.module_file(module)
        assert found is not None, f"{module} is no module of the package"
        path = found.relative_to(bentofile.PACKAGE_DIR.parent).as_posix()
        assert any(fnmatch(path, pattern) for pattern in include), f"bentofile.yaml: add {path}"


def test_make_package_adds_the_projects_package_and_what_it_imports(workdir):
    """src/<package>/ goes into the bento with the modules of this package it imports (its
    features.py imports data.features), added by `make package`, not by bentofile.yaml."""
    own, third_party = bentofile.project_imports()
    assert "data.features" in own and "sklearn" in third_party
    includes = bentofile.project_includes()
    assert includes[0] == f"{EXAMPLE_PACKAGE}/" and "actions_mlops/data/features.py" in includes
    (workdir / ".python-version").write_text((ROOT / ".python-version").read_text())
    options = build_options(ROOT / "bentofile.yaml", ROOT / "uv.lock", EXAMPLE_PACKAGE)
    assert options["include"][-len(includes) :] == includes


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
    settings = tmp_path / "bentofile.yaml"
    settings.write_text(f"service: {bentofile.SERVICE}\npython:\n  packages: [no-such-package]\n")
    with pytest.raises(ConfigError, match="packages: no-such-package — a distribution installed"):
        build_options(settings, ROOT / "uv.lock")


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
