"""What a restored DVC cache saves a pull request: the core of pr.yml's `train` job, `make pull`
then `make repro` in a fresh checkout of the default project (no DVC remote), for (a) a pull
request that changes a param and (b) one that changes only the README, each without and with
main's `.dvc/cache` (objects and run-cache, as actions/cache restores it) in place first. The
baseline is a no-op `make repro` in a workspace where nothing changed.

Not under act: the workflow's other steps (checkout, setup, make check, gate, report) cost the
same in every case, so pull + repro is where the cache shows. The cache restore is measured as a
local copy of the folder (on GitHub, a download of the same bytes).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    bake,
    git_identity,
    measure,
    ratio,
    require,
    table,
    target,
    targets_table,
    write_result,
)

NAME = "prcache"
CHANGES = {
    "param": "a param changed (params.yaml)",
    "readme": "README only",
}


def git(project: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)


def change(project: Path, kind: str) -> None:
    """The pull request's change, committed (pr.yml checks out the pull request's commit)."""
    if kind == "param":
        params = project / "params.yaml"
        text, count = re.subn(r"^(\s+C:) [\d.]+", r"\1 0.37", params.read_text(), flags=re.M)
        if not count:
            raise RuntimeError(f"{params}: no model.params.C to change")
        params.write_text(text)
    else:
        readme = project / "README.md"
        readme.write_text(readme.read_text() + "\nA note for the benchmark.\n")
    git(project, "commit", "-qam", f"bench: {kind}")


def stages_run(log: Path, since: int) -> int:
    """How many stages DVC ran (not checked out from the run-cache) after offset `since`."""
    return log.read_text(errors="replace")[since:].count("Running stage")


def run(context: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-prcache-", dir=context.get("tmp")))
    env = context["env"](ACTIONS_MLOPS_NO_GIT="1")
    venv = f"VENV={context['venv']}"
    log = work / "prcache.log"
    main = bake(work / "main")
    git(main, "init", "-q", "-b", "main")
    git_identity(main)
    git(main, "add", "-A")
    git(main, "commit", "-qm", "init")
    print("prcache: main's first make repro (fills .dvc/cache)", flush=True)
    require(measure(["make", "repro", venv], main, log, env), log)
    git(main, "add", "-A")
    git(main, "commit", "-qm", "pipeline results")
    noop = require(measure(["make", "repro", venv], main, log, env), log)
    saved = work / "main-cache"
    shutil.copytree(main / ".dvc" / "cache", saved)

    runs: dict[str, dict[str, Any]] = {}
    for kind in CHANGES:
        for cached in (False, True):
            label = f"{kind}, {'cache restored' if cached else 'no cache'}"
            clone = work / f"{kind}-{'cached' if cached else 'cold'}"
            git(work, "clone", "-q", str(main), str(clone))
            git_identity(clone)
            change(clone, kind)
            restore = None
            if cached:
                began = time.perf_counter()
                shutil.copytree(saved, clone / ".dvc" / "cache")
                restore = round(time.perf_counter() - began, 3)
            offset = log.stat().st_size
            pull = require(measure(["make", "pull", venv], clone, log, env), log)
            repro = require(measure(["make", "repro", venv], clone, log, env), log)
            runs[label] = {
                "change": kind,
                "cached": cached,
                "restore_s": restore,
                "pull_s": pull.wall_s,
                "repro_s": round(pull.wall_s + repro.wall_s, 3),
                "stages_run": stages_run(log, offset),
            }
            print(f"prcache: {label}: pull {pull.wall_s} s, repro {repro.wall_s} s", flush=True)

    def repro_s(kind: str, cached: bool) -> float:
        found = (r for r in runs.values() if (r["change"], r["cached"]) == (kind, cached))
        return next(found)["repro_s"]

    rows = [
        [label, r["repro_s"], r["pull_s"], r["restore_s"], r["stages_run"]]
        for label, r in runs.items()
    ]
    rows.append(["no-op repro (nothing changed)", noop.wall_s, None, None, 0])
    tables = [
        table(
            "prcache: make pull + make repro in a fresh checkout of a pull request",
            ["pull request", "pull+repro s", "of which pull s", "cache restore s", "stages run"],
            rows,
        )
    ]
    ratios = {
        "readme/param, no cache": ratio(repro_s("readme", False), repro_s("param", False)),
        "readme/param, cache restored": ratio(repro_s("readme", True), repro_s("param", True)),
        "readme cached/no-op": ratio(repro_s("readme", True), noop.wall_s),
    }
    tables.append(table("prcache: ratios", ["ratio", "value"], [[k, v] for k, v in ratios.items()]))
    readme_cached = next(r for r in runs.values() if r["change"] == "readme" and r["cached"])
    targets = [
        # Goal: a README-only pull request costs setup plus a no-op repro: no stage runs, and
        # pull + repro take at most twice a no-op repro (the checkout out of the cache).
        target("README-only PR, cache restored: stages run", readme_cached["stages_run"], 0),
        target("README-only PR, cached: repro / no-op repro", ratios["readme cached/no-op"], 2.0),
    ]
    tables.append(targets_table(targets))
    write_result(
        NAME,
        {"runs": runs, "noop_repro_s": noop.wall_s, "ratios": ratios, "targets": targets},
        tables,
        started,
        quick=context.get("quick", False),
    )
    if not context.get("keep"):
        shutil.rmtree(work, ignore_errors=True)
    return {"runs": runs, "ratios": ratios}
