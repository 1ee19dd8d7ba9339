"""Keep only the files the chosen options need, then `git init -b main`.

No network calls and no timestamps: cruft re-runs this hook when it updates a
project from a newer template. Skip git with init_git=no or ACTIONS_MLOPS_NO_GIT=1.
"""

import os
import shutil
import subprocess
from pathlib import Path

DATASET = {{ cookiecutter.dataset | tojson }}
TASK = {{ cookiecutter.task | tojson }}
PROJECT = {{ cookiecutter.project | tojson }}
PYTHON = {{ cookiecutter.python_version | tojson }}
DVC_REMOTE = {{ cookiecutter.dvc_remote | tojson }}
INIT_GIT = {{ cookiecutter.init_git | tojson }} == "yes" and not os.environ.get("ACTIONS_MLOPS_NO_GIT")

OPTIONS = Path("_options")
# The project's entry in the shipped locks, its name left for this hook to write in.
LOCKED_ENTRY = '[[package]]\nname = "{}"\nversion = '


def lock_name(python: str, dvc_remote: str) -> str:
    """The shipped uv.lock of these options: the Python version sets requires-python and the
    remote the dvc extra, the only answers that change what pyproject.toml depends on
    (scripts/lock.py writes one per combination, and the template's tests check each is current).
    """
    extra = f"-{dvc_remote}" if dvc_remote in ("s3", "gs", "azure") else ""
    return f"python{python}-dvc{extra}.uv.lock"


def keep_chosen_files() -> None:
    """Move the contract (and example CSV) of the chosen data set and the lock of the chosen
    Python and DVC remote into place."""
    lock = OPTIONS / "locks" / lock_name(PYTHON, DVC_REMOTE)
    if lock.is_file():  # copied unrendered (1 MB each): the project's name is written in here
        text = lock.read_text(encoding="utf-8")
        placeholder = LOCKED_ENTRY.format("{{ "{{ cookiecutter.project }}" }}")
        if text.count(placeholder) != 1:
            raise SystemExit(f"{lock}: no project entry to name: run `make locks` in the template")
        named = text.replace(placeholder, LOCKED_ENTRY.format(PROJECT))
        Path("uv.lock").write_text(named, encoding="utf-8")
    elif not os.environ.get("ACTIONS_MLOPS_LOCKING"):  # scripts/lock.py bakes to write it
        raise SystemExit(f"the template ships no {lock}: run `make locks` in the template")
    variant = f"csv_{TASK}" if DATASET == "csv" else DATASET
    shutil.move(OPTIONS / "contracts" / f"{variant}.yaml", "contract.yaml")
    if DATASET == "csv":
        Path("data/raw").mkdir(parents=True, exist_ok=True)
        shutil.move(OPTIONS / "data" / f"{variant}.csv", "data/raw/dataset.csv")
    shutil.rmtree(OPTIONS)


def init_git() -> None:
    """Create the repository on branch main, ready for a first commit."""
    if not INIT_GIT:
        print("Skipped git init (init_git=no or ACTIONS_MLOPS_NO_GIT set).")
        return
    if shutil.which("git") is None:
        print("git is not installed: skipped git init. Run `git init -b main` once git is available.")
        return
    subprocess.run(["git", "init", "--quiet", "-b", "main"], check=True)
    print("Initialised a git repository on branch main (nothing committed yet).")


if __name__ == "__main__":
    keep_chosen_files()
    init_git()
    print(
        "\nNext steps:\n"
        f"  cd {Path.cwd().name}\n"
        "  make setup      # .venv from uv.lock (bootstraps uv if missing), git hooks\n"
        "  make adopt DATA=table.csv TARGET=column   # your own data (README: Your data)\n"
        "  make repro      # ingest -> validate -> split -> train -> evaluate -> profile\n"
        "  make check      # lint and tests\n"
        "  make help       # every command\n"
    )
