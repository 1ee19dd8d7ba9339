"""What a generated project hands its owner: `python scripts/project_size.py [--adopt CSV TARGET]`.

Bakes the default project (dataset=csv with --adopt, then `make adopt` on the table), and prints
the Python lines of the project's own code and tests, its files (the vendored actions-mlops wheel
counted apart: read-only, replaced whole by updates) and the wall time of its `make check`,
run in this environment (`make check VENV=<this venv>`, as the template's tests run it).
Issue 25's budget: at most 1,500 lines of Python, `make check` under 60 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)


def python_lines(project: Path) -> int:
    """Lines of the project's own Python: src/ and tests/."""
    files = [*project.glob("src/**/*.py"), *project.glob("tests/**/*.py")]
    return sum(len(path.read_text(encoding="utf-8").splitlines()) for path in files)


def files(project: Path) -> tuple[int, int]:
    """(the project's files, the vendored wheels), .git and caches left out."""
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
    found = [p for p in project.rglob("*") if p.is_file() and not skip & set(p.parts)]
    wheels = [p for p in found if p.suffix == ".whl"]
    return len(found) - len(wheels), len(wheels)


def make(project: Path, *args: str) -> float:
    """Wall seconds of one `make` target in this environment; exits on failure."""
    started = time.monotonic()
    env = {**os.environ, "PATH": os.pathsep.join([str(VENV / "bin"), os.environ["PATH"]])}
    result = subprocess.run(["make", *args, f"VENV={VENV}"], cwd=project, env=env, text=True,
                            capture_output=True, check=False)  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"make {args[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adopt", nargs=2, metavar=("CSV", "TARGET"), help="a table to adopt")
    args = parser.parse_args()
    os.environ["ACTIONS_MLOPS_NO_GIT"] = "1"
    with tempfile.TemporaryDirectory(prefix="project-size-") as work:
        context = {"dataset": "csv"} if args.adopt else {}
        project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=work,
                                    extra_context=context))  # fmt: skip
        what = "a fresh default project"
        if args.adopt:
            table, target = args.adopt
            make(project, "adopt", f"DATA={Path(table).resolve()}", f"TARGET={target}")
            what = f"a project that adopted {Path(table).name}"
        seconds = make(project, "check")
        own, wheels = files(project)
        print(f"{what}:")
        print(f"  Python lines (src/ + tests/): {python_lines(project)}  (budget 1500)")
        print(f"  files: {own}, plus {wheels} vendored actions-mlops wheel")
        print(f"  make check: {seconds:.1f} s  (budget 60 s)")


if __name__ == "__main__":
    main()
