"""Are the numbers in bench/results/ about today's code? `python -m bench --check` (also run at
the end of `make bench`) names each result file measured before the last commit that changed
what it measures, or with uncommitted changes, and exits 1.

Every benchmark measures the platform, the generated project and its own module (`COMMON`);
`EXTRA` adds what one measures besides.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

COMMON = ("actions-mlops/src", "{{cookiecutter.project}}", "bench/common.py")
EXTRA = {
    "testsuite": ("tests", "actions-mlops/tests", "actions-mlops/pyproject.toml", "Makefile"),
    "batch-spark": ("bench/batch.py", "bench/apps/batch_score.py"),  # its module is bench/batch
    "monitor": ("bench/apps/monitor_log.py",),
}


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def measured_paths(name: str) -> tuple[str, ...]:
    """What benchmark `name` measures: the common paths, its module and its EXTRA."""
    return (*COMMON, f"bench/{name}.py", *EXTRA.get(name, ()))


def stale_results(root: Path, results: Path) -> list[str]:
    """One line per result file in `results` that does not describe HEAD."""
    lines = []
    for result in sorted(results.glob("*.json")):
        why = staleness(root, result, measured_paths(result.stem))
        if why:
            lines.append(why)
    return lines


def staleness(root: Path, result: Path, paths: Iterable[str]) -> str | None:
    """Why `result` does not describe `root`'s HEAD (None: it does)."""
    machine = json.loads(result.read_text(encoding="utf-8")).get("machine", {})
    commit, dirty = machine.get("template_commit"), machine.get("template_dirty")
    where = result.relative_to(root) if result.is_relative_to(root) else result
    if not commit:
        return f"{where}: records no commit (measured before results named theirs)"
    if git(root, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        return f"{where}: measured on {commit}, which is not in this history"
    if dirty:
        return f"{where}: measured on {commit} with uncommitted changes to what it measures"
    changes = git(root, "log", "--format=%h %s", f"{commit}..HEAD", "--", *paths).stdout
    if changes.strip():
        lines = changes.splitlines()
        latest = lines[0] if len(lines[0]) <= 72 else lines[0][:71] + "…"
        return (
            f"{where}: measured on {commit}; {len(lines)} later commit(s) changed what it "
            f"measures (latest: {latest})"
        )
    return None


def dirty(root: Path, paths: Iterable[str]) -> bool:
    """Uncommitted changes to `paths` (a result measured then describes no commit)."""
    return bool(git(root, "status", "--porcelain", "--", *paths).stdout.strip())
