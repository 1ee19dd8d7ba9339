"""Time to first metrics: bake the default project, `make setup` (a fresh virtual environment
filled by uv), `make repro` (the whole pipeline, to reports/metrics.json).

Cold: uv's cache is a new empty folder (UV_CACHE_DIR), so every package is downloaded. Warm: the
same again in a new folder with the cache the cold run filled. Then the same install with plain
pip into a `python -m venv` environment, without pip's cache (measured once, capped).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    TEMPLATE,
    measure,
    ratio,
    require,
    table,
    target,
    targets_table,
    write_result,
)

NAME = "first_metrics"
PIP_TIMEOUT = 420  # seconds; pip is reported as a lower bound when it takes longer


def first_metrics(work: Path, label: str, context: dict[str, Any], uv_cache: Path) -> dict:
    """bake -> make setup -> make repro in `work/label`, each phase measured alone."""
    folder = work / label
    log = work / f"{label}.log"
    env = context["env"](UV_CACHE_DIR=str(uv_cache))
    env.pop("VIRTUAL_ENV", None)
    cookiecutter = str(context["venv"] / "bin" / "cookiecutter")
    phases = {
        "bake": require(
            measure([cookiecutter, "--no-input", "-o", str(folder), str(TEMPLATE)], work, log, env),
            log,
        )
    }
    project = next(path for path in folder.iterdir() if path.is_dir())  # the one baked project
    phases["setup (venv + install)"] = require(measure(["make", "setup"], project, log, env), log)
    phases["repro (pipeline)"] = require(measure(["make", "repro"], project, log, env), log)
    metrics = project / "reports" / "metrics.json"
    if not metrics.exists():
        raise RuntimeError(f"{label}: make repro wrote no {metrics}")
    return {"project": project, "log": log, "phases": phases}


def pip_install(work: Path, project: Path) -> dict:
    """The same dependencies, plain pip (no cache), into a new `python -m venv` environment."""
    log = work / "pip.log"
    venv = work / "pip-venv"
    python = shutil.which("python3.11") or sys.executable
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    made = require(measure([python, "-m", "venv", str(venv)], work, log, env), log)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    version = subprocess.run([*pip, "--version"], capture_output=True, text=True, env=env)
    # pip reads no uv.lock: the lock's pins (dev group included) exported as requirements.
    pins = work / "pip-requirements.txt"
    export = ["uv", "export", "--frozen", "--no-hashes", "--no-emit-project", "-o", str(pins)]
    require(measure(export, project, log, env), log)
    command = [*pip, "install", "--no-cache-dir", "-q", "-r", str(pins), "-e", "."]
    install = measure(command, project, log, env, PIP_TIMEOUT)
    if not install.ok and not install.timed_out:
        require(install, log)
    pip_version = version.stdout.split()[1] if version.returncode == 0 else None
    return {"venv": made, "install": install, "pip_version": pip_version}


def run(context: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-first-metrics-", dir=context.get("tmp")))
    uv_cache = work / "uv-cache"
    uv_cache.mkdir()
    cold = first_metrics(work, "cold", context, uv_cache)
    warm = first_metrics(work, "warm", context, uv_cache)
    context["project"] = warm["project"]  # a trained project with its own venv, for `serving`
    pip = None if context.get("quick") else pip_install(work, cold["project"])

    rows = []
    for phase in cold["phases"]:
        c, w = cold["phases"][phase], warm["phases"][phase]
        rows.append([phase, c.wall_s, w.wall_s, ratio(c.wall_s, w.wall_s), c.cpu_s, w.cpu_s])
    cold_total = sum(r.wall_s for r in cold["phases"].values())
    warm_total = sum(r.wall_s for r in warm["phases"].values())
    rows.append(["total: bake -> metrics", cold_total, warm_total, ratio(cold_total, warm_total)])
    phases = table(
        "time to first metrics (default project: breast_cancer, LogisticRegression)",
        ["phase", "cold s", "warm s", "cold/warm", "cold cpu s", "warm cpu s"],
        [[*r, None, None][:6] for r in rows],
    )
    tables = [phases]
    install_rows = [
        ["uv, cold cache (make setup)", cold["phases"]["setup (venv + install)"].wall_s, 1.0],
    ]
    pip_s = None
    if pip:
        install = pip["install"]
        pip_s = round(pip["venv"].wall_s + install.wall_s, 2)
        uv_s = cold["phases"]["setup (venv + install)"].wall_s
        label = f"pip {pip['pip_version'] or ''}, no cache (venv + install)".replace("  ", " ")
        if install.timed_out:
            label += f": STOPPED at {PIP_TIMEOUT} s, a lower bound"
        install_rows.append([label, pip_s, ratio(pip_s, uv_s)])
        install_rows.append(
            [
                "uv, warm cache (make setup)",
                warm["phases"]["setup (venv + install)"].wall_s,
                ratio(warm["phases"]["setup (venv + install)"].wall_s, uv_s),
            ]
        )
        tables.append(
            table(
                "installing the generated project's dependencies (uv.lock, dev group included)",
                ["installer", "wall s", "x uv cold"],
                install_rows,
            )
        )
    targets = [target("warm bake -> metrics, s", round(warm_total, 1), 60.0)]
    tables.append(targets_table(targets))
    write_result(
        NAME,
        {
            "project": "default bake (classification, breast_cancer, LogisticRegression)",
            "cold": {k: vars(v) for k, v in cold["phases"].items()},
            "warm": {k: vars(v) for k, v in warm["phases"].items()},
            "cold_total_s": round(cold_total, 2),
            "warm_total_s": round(warm_total, 2),
            "pip": None
            if pip is None
            else {
                "version": pip["pip_version"],
                "venv": vars(pip["venv"]),
                "install": vars(pip["install"]),
                "timeout_s": PIP_TIMEOUT,
                "total_s": pip_s,
            },
            "targets": targets,
        },
        tables,
        started,
        quick=bool(context.get("quick")),
    )
    return {"targets": targets}


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main([NAME, *sys.argv[1:]]))
