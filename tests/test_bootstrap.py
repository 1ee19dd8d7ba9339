"""uv is bootstrapped with Python alone, and never into the system interpreter.

The "system" Python here is a throwaway venv (its site-packages listed before and after); PATH
holds it and /usr/bin:/bin only, so no uv is found and the generated Makefile installs its own.
The one download: uv from PyPI, once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake, run


def installed(python: Path) -> list[str]:
    """Every distribution installed in an interpreter (pip itself included)."""
    listing = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    )
    return sorted(listing.stdout.splitlines())


def bare_path(system: Path) -> str:
    """PATH of a machine whose only Python is `system` and that has no uv."""
    path = os.pathsep.join([str(system / "bin"), "/usr/bin", "/bin"])
    assert shutil.which("uv", path=path) is None, "this test needs a PATH without uv"
    return path


def test_generated_project_bootstraps_uv_without_touching_the_system_python(tmp_path):
    system = tmp_path / "system-python"
    venv.create(system, with_pip=True)
    before = installed(system / "bin" / "python")
    project = bake(tmp_path / "bake")
    env = {"PATH": bare_path(system)}

    first = run(["make", "uv"], project, env=env, timeout=300)
    assert "installing it into" in first.stdout
    uv = project / ".uv" / "bin" / "uv"
    assert run([str(uv), "--version"], project).stdout.startswith("uv ")
    # make's recipes find it (setup, lock and package run plain `uv`), and do not bootstrap again.
    again = run(["make", "uv"], project, env=env)
    assert "installing" not in again.stdout
    found = run(["sh", "-c", "make -s --eval 'where: ; @command -v uv' where"], project, env=env)
    assert found.stdout.strip() == str(uv)
    assert installed(system / "bin" / "python") == before
    # .uv/ is the project's tool, not its content: git ignores it.
    assert "/.uv/" in (project / ".gitignore").read_text().splitlines()


def test_template_setup_installs_uv_into_its_venv_not_the_system_python(tmp_path):
    """The template's own `make setup`: the system Python only creates the venv (`-m venv`);
    pip and uv are the venv's (dry run: the recipe as make would run it)."""
    commands = run(
        ["make", "-n", "setup", f"VENV={tmp_path / 'venv'}", "PYTHON=python3"], TEMPLATE
    ).stdout.splitlines()
    bootstrap = [line for line in commands if " python3 " in f" {line} "]
    assert bootstrap and all(
        line.endswith(f"python3 -m venv {tmp_path / 'venv'}") for line in bootstrap
    )
    assert any(f"{tmp_path / 'venv'}/bin/python -m pip install" in line for line in commands)
    assert not any("-m pip install" in line and "python3 -m" in line for line in commands)


@pytest.mark.slow
def test_template_setup_runs_with_only_python(tmp_path):
    """The template's `make setup` from scratch with a throwaway "system" Python: the venv is
    made, uv lands in it, and the system Python's packages are the same afterwards."""
    system = tmp_path / "system-python"
    venv.create(system, with_pip=True)
    before = installed(system / "bin" / "python")
    target = tmp_path / "venv"
    run(["make", "setup", f"VENV={target}"], TEMPLATE, env={"PATH": bare_path(system)}, timeout=900)
    assert (target / "bin" / "uv").exists() and (target / "bin" / "pytest").exists()
    assert installed(system / "bin" / "python") == before
