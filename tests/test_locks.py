"""The uv.lock every baked project receives is current: it resolves that project's pyproject.toml.

The template ships one lock per (python_version, dvc_remote) combination (scripts/lock.py,
`make locks`); a dependency added to the template's pyproject.toml without `make locks` fails
here, one test per combination. `uv lock --check` asks the package index (PyPI) only when the
lock does not already satisfy pyproject.toml. uv looks for each Python on PATH, among its managed
ones and among pyenv's versions; it never downloads one (python-build-standalone comes from
GitHub). The lock of a Python not installed here is skipped with the command that installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake

sys.path.insert(0, str(TEMPLATE / "scripts"))
import lock as locks  # noqa: E402  (scripts/lock.py: the combinations and the union lock)

UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv") or "uv"


# pyenv's interpreters (its shims fail for a version not selected), after PATH's.
PYENV = sorted(Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")).glob("versions/*/bin"))
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), *map(str, PYENV)])


def uv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": SEARCH_PATH, "UV_PYTHON_DOWNLOADS": "never"}
    return subprocess.run(
        [UV, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False, env=env
    )


def need_python(version: str, cwd: Path) -> None:
    """Skip without that Python installed here: downloading one would reach GitHub."""
    if uv("python", "find", "--no-python-downloads", version, cwd=cwd).returncode != 0:
        pytest.skip(f"no Python {version} here: `uv python install {version}`")


def bake_options(tmp_path: Path, python: str, remote: str, **more: str) -> Path:
    options = {"python_version": python, "dvc_remote": remote}  # the remote's default URL
    return bake(tmp_path, init_git="no", **options, **more)


COMBINATIONS = locks.combinations()


@pytest.mark.parametrize(
    ("python", "remote"), COMBINATIONS, ids=[f"{p}-{r}" for p, r in COMBINATIONS]
)
def test_every_shipped_lock_is_current(python, remote, tmp_path):
    project = bake_options(tmp_path, python, remote)
    need_python(python, project)
    check = uv("lock", "--check", "--no-python-downloads", cwd=project)
    assert check.returncode == 0, (
        f"_options/locks/{locks.lock_name(python, remote)} does not resolve this combination's "
        f"pyproject.toml: run `make locks`\n{check.stderr[-2000:]}"
    )


def test_local_remote_uses_the_lock_of_no_remote(tmp_path):
    """dvc_remote=local needs plain dvc, as none does: no lock of its own."""
    local = bake_options(tmp_path / "local", "3.11", "local")
    plain = bake_options(tmp_path / "none", "3.11", "none")
    assert (local / "uv.lock").read_text() == (plain / "uv.lock").read_text()


def test_a_dependency_added_without_relocking_fails_the_check(tmp_path):
    project = bake_options(tmp_path, "3.11", "none")
    need_python("3.11", project)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace("dependencies = [\n", 'dependencies = [\n  "tqdm>=4",\n', 1))
    check = uv("lock", "--check", "--no-python-downloads", cwd=project)
    assert check.returncode != 0
    assert re.search(r"lockfile .*needs to be updated", check.stderr), check.stderr


def test_the_template_environment_pins_the_union_lock(tmp_path):
    """requirements-dev.txt installs scripts/project-requirements.txt: the export of the union
    of every combination (scripts/all-remotes.uv.lock), which must itself be current."""
    project = bake_options(tmp_path, "3.11", "s3", project=locks.SLUG)
    need_python("3.11", project)
    locks.widen(project / "pyproject.toml")
    (project / "uv.lock").write_text(locks.untemplate(locks.UNION.read_text()))
    check = uv("lock", "--check", "--no-python-downloads", cwd=project)
    assert check.returncode == 0, f"scripts/all-remotes.uv.lock: `make locks`\n{check.stderr}"
    export = uv(*locks.EXPORT, cwd=project)
    assert export.returncode == 0, export.stderr
    written = locks.REQUIREMENTS.read_text()
    assert written.endswith(export.stdout), "scripts/project-requirements.txt: `make locks`"
    assert "-r scripts/project-requirements.txt" in (TEMPLATE / "requirements-dev.txt").read_text()


def test_every_lock_holds_the_vendored_wheel_s_hash():
    """`uv lock --check` keeps a path wheel's recorded hash; `uv sync --locked` (make setup)
    refuses a wheel whose bytes differ. Each shipped lock names the vendored wheel's sha256."""
    import hashlib

    (wheel,) = (TEMPLATE / "{{cookiecutter.project}}" / "vendor").glob("*.whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    entry = f'{{ filename = "{wheel.name}", hash = "sha256:{digest}" }}'
    for lock in [locks.UNION, *sorted(locks.LOCKS.glob("*.uv.lock"))]:
        assert entry in lock.read_text(), f"{lock.name}: not the vendored wheel's hash: make locks"
