"""Write the uv.lock every generated project ships with (`make locks`; `--upgrade` for newest).

A project's lock depends on two answers only: python_version (requires-python) and dvc_remote
(the dvc extra; none and local both need plain dvc). The post-gen hook must not reach the
network (cruft re-runs it on every template update), so the template ships one lock per
combination in {{cookiecutter.project}}/_options/locks/ and the hook moves the chosen one to
uv.lock, writing the project's name in. Each is made the way a user makes theirs: bake the
combination and `uv lock` in it. tests/test_locks.py checks that every shipped lock is current.

First comes the union of all combinations (Python 3.11 and dvc[s3,gs,azure]), locked into
scripts/all-remotes.uv.lock: the template's own environment installs it (exported to
scripts/project-requirements.txt, which requirements-dev.txt reads), since its tests run every
kind of baked project. Every shipped lock starts from it, so each holds the union's versions
where it can: the tests' environment runs the versions the users get.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "{{cookiecutter.project}}"
LOCKS = PROJECT / "_options" / "locks"
REQUIREMENTS = ROOT / "scripts" / "project-requirements.txt"
UNION = ROOT / "scripts" / "all-remotes.uv.lock"
CHOICES = json.loads((ROOT / "cookiecutter.json").read_text())
PYTHONS = CHOICES["python_version"]
REMOTES = ("none", "s3", "gs", "azure")  # local needs what none needs: plain dvc
SLUG = "project-being-locked"
S3_PIN, UNION_PIN = '"actions-mlops[s3]==', '"actions-mlops[s3,gs,azure]=='  # the platform's extras
# The root package's entry; the shipped locks leave its name to the post-gen hook.
ROOT_ENTRY = '[[package]]\nname = "{name}"\nversion = "0.1.0"\nsource = {{ editable = "." }}\n'
TEMPLATED = ROOT_ENTRY.format(name="{{ cookiecutter.project }}")
# Every package the lock can install, as pinned requirement lines (uv's arguments).
EXPORT = ["export", "--frozen", "--all-groups", "--no-hashes", "--no-header", "--no-annotate"]
EXPORT += ["--no-emit-project", "--no-emit-package", "actions-mlops"]  # installed editable


def lock_name(python: str, dvc_remote: str) -> str:
    """The file name the post-gen hook looks for (hooks/post_gen_project.py, lock_name)."""
    extra = f"-{dvc_remote}" if dvc_remote in ("s3", "gs", "azure") else ""
    return f"python{python}-dvc{extra}.uv.lock"


def combinations() -> list[tuple[str, str]]:
    """Every (python_version, dvc_remote) whose lock differs, the default combination first."""
    return [(python, remote) for python in PYTHONS for remote in REMOTES]


def uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        sys.exit("lock: uv is not installed")
    return found


def bake(output: Path, python: str, remote: str) -> Path:
    """The project of this combination, without git and without a lock of its own."""
    os.environ["ACTIONS_MLOPS_NO_GIT"] = os.environ["ACTIONS_MLOPS_LOCKING"] = "1"
    url = "" if remote == "none" else f"{remote}://bucket/x"
    context = {"project": SLUG, "python_version": python, "dvc_remote": remote}
    context["dvc_remote_url"] = url
    return Path(
        cookiecutter(str(ROOT), no_input=True, output_dir=str(output), extra_context=context)
    )


def untemplate(text: str) -> str:
    return text.replace(TEMPLATED, ROOT_ENTRY.format(name=SLUG))


def template(text: str, where: str) -> str:
    entry = ROOT_ENTRY.format(name=SLUG)
    if text.count(entry) != 1:
        sys.exit(f"lock: {where}: expected the project's entry once:\n{entry}")
    return text.replace(entry, TEMPLATED)


def uv_lock(project: Path, seed: Path, upgrade: bool) -> None:
    """`uv lock` in `project`, starting from the lock `seed` (when there is one)."""
    if seed.is_file():
        (project / "uv.lock").write_text(untemplate(seed.read_text()))
    # Each Python from PATH or pyenv's versions (whose shims fail for a version not selected),
    # never downloaded: uv would fetch one from GitHub.
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")).glob("versions/*/bin")
    search = os.pathsep.join([os.environ.get("PATH", ""), *map(str, sorted(pyenv))])
    env = {**os.environ, "PATH": search, "UV_PYTHON_DOWNLOADS": "never"}
    # The vendored wheel is re-read every time: uv keeps a path wheel's locked hash otherwise.
    command = [uv(), "lock", "--quiet", "--upgrade-package", "actions-mlops"]
    command += ["--upgrade"] if upgrade else []
    subprocess.run(command, cwd=project, check=True, env=env)


def widen(pyproject: Path) -> None:
    """An s3 project's pyproject.toml made to depend on every remote's extra (the union)."""
    text = pyproject.read_text()
    if text.count(S3_PIN) != 1:
        sys.exit(f"lock: {pyproject}: no {S3_PIN} dependency to widen")
    pyproject.write_text(text.replace(S3_PIN, UNION_PIN, 1))


def lock_union(upgrade: bool, work: Path) -> None:
    """The union's lock (scripts/all-remotes.uv.lock) and its export for the template's tools."""
    project = bake(work / "union", PYTHONS[0], "s3")
    widen(project / "pyproject.toml")
    uv_lock(project, UNION, upgrade)
    shutil.copy(project / "uv.lock", UNION)
    pins = subprocess.run([uv(), *EXPORT], cwd=project, check=True, capture_output=True, text=True)
    header = (
        "# Written by scripts/lock.py (`make locks`) from scripts/all-remotes.uv.lock: every\n"
        "# package a generated project can install, pinned. Do not edit.\n"
    )
    REQUIREMENTS.write_text(header + pins.stdout)
    print(f"lock: {UNION.relative_to(ROOT)} and {REQUIREMENTS.relative_to(ROOT)} written")


def lock(python: str, remote: str, work: Path) -> None:
    """Lock one combination, starting from the union's lock, and store it for the template."""
    project = bake(work / f"{python}-{remote}", python, remote)
    uv_lock(project, UNION, upgrade=False)
    stored = LOCKS / lock_name(python, remote)
    text = template((project / "uv.lock").read_text(), stored.name)
    changed = not stored.is_file() or stored.read_text() != text
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(text)
    print(f"lock: {stored.relative_to(ROOT)} {'updated' if changed else 'unchanged'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="newest allowed versions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="template-lock-") as work:
        lock_union(args.upgrade, Path(work))
        for python, remote in combinations():
            lock(python, remote, Path(work))


if __name__ == "__main__":
    main()
