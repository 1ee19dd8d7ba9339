"""Monitor memory (issue 31 item 3): `make monitor` on a 1M-line prediction log, wall time and
peak RSS, for 200 records a request and for one (every request id distinct); the import cost
alone beside them. The csv/classification project, trained by its own steps."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    TEMPLATE,
    bake,
    measure,
    require,
    table,
    target,
    targets_table,
    write_result,
)

STEPS = ("split", "train", "evaluate", "profile")
LIMIT_MB = 500  # issue 31: 1M lines within 500 MB peak


def run(context: dict[str, Any]) -> None:
    started = time.perf_counter()
    rows = 20_000 if context["quick"] else 1_000_000
    work = Path(context["tmp"]) / "monitor"
    project = bake(work, project_name="Bench Monitor", task="classification", dataset="csv")
    log = work / "bench.log"
    python = str(Path(context["venv"]) / "bin" / "python")
    env = context["env"](PYTHONPATH=str(project / "src"))
    for step in STEPS:
        require(measure([python, "-m", "actions_mlops", step], project, log, env), log)
    imports = require(
        measure([python, "-c", "import actions_mlops.monitoring.monitor"], project, log, env), log
    )
    results: dict[str, Any] = {"rows": rows, "imports_peak_rss_mb": imports.peak_rss_mb}
    lines = [["imports only", "-", "-", imports.wall_s, imports.peak_rss_mb, "-"]]
    writer = str(TEMPLATE / "bench" / "apps" / "monitor_log.py")
    for per_request in (200, 1):
        folder = work / f"log-{per_request}"
        command = [python, writer, str(folder), str(rows), str(per_request)]
        require(measure(command, project, log, env), log)
        size = sum(f.stat().st_size for f in folder.glob("*.jsonl")) / 1e6
        monitor = measure(
            [python, "-m", "actions_mlops", "monitor", "--batch", str(folder)], project, log, env
        )
        if monitor.returncode not in (0, 2, 3):
            require(monitor, log)
        verdict = (project / "reports" / "monitor.json").read_text().split('"verdict": "')[1]
        results[f"per_request_{per_request}"] = {
            "log_mb": round(size, 1),
            "wall_s": monitor.wall_s,
            "cpu_s": monitor.cpu_s,
            "peak_rss_mb": monitor.peak_rss_mb,
            "verdict": verdict.split('"')[0],
        }
        lines.append(
            [
                f"{per_request} a request",
                rows,
                round(size, 1),
                monitor.wall_s,
                monitor.peak_rss_mb,
                verdict.split('"')[0],
            ]
        )
    tables = [
        table("monitor: 1M-line log", ["log", "lines", "MB", "wall s", "peak MB", "verdict"], lines)
    ]
    targets = [
        target(f"peak RSS MB, {n} a request", results[f"per_request_{n}"]["peak_rss_mb"], LIMIT_MB)
        for n in (200, 1)
    ]
    tables.append(targets_table(targets))
    write_result(
        "monitor", {"results": results, "targets": targets}, tables, started, context["quick"]
    )


if __name__ == "__main__":
    sys.exit("run through python -m bench monitor")
