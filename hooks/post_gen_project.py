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
PACKAGE = {{ cookiecutter.package | tojson }}
INIT_GIT = {{ cookiecutter.init_git | tojson }} == "yes" and not os.environ.get("ACTIONS_MLOPS_NO_GIT")

OPTIONS = Path("_options")


def keep_chosen_files() -> None:
    """Move the contract (and example CSV) of the chosen data set into place."""
    variant = f"csv_{TASK}" if DATASET == "csv" else DATASET
    shutil.move(OPTIONS / "contracts" / f"{variant}.yaml", "contract.yaml")
    if DATASET == "csv":
        Path("data/raw").mkdir(parents=True, exist_ok=True)
        shutil.move(OPTIONS / "data" / f"{variant}.csv", "data/raw/dataset.csv")
        # No ingest stage: the CSV in data/raw/ is the source.
        Path("src", PACKAGE, "data", "ingest.py").unlink()
        Path("tests", "test_data.py").unlink()
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
        "  make setup      # .venv with uv, dependencies, pre-commit hooks\n"
        "  make adopt DATA=table.csv TARGET=column   # your own data (README: Your data)\n"
        "  make repro      # ingest -> validate -> split -> train -> evaluate -> profile\n"
        "  make check      # lint and tests\n"
        "  make help       # every command\n"
    )
