"""Shared helpers: the machine's description, child processes measured one by one (wall time,
CPU time, peak RSS from wait4), tables, fitted exponents and the JSON result files."""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from cookiecutter.main import cookiecutter

from bench.freshness import dirty, measured_paths

TEMPLATE = Path(__file__).resolve().parents[1]
# The platform every baked project runs (actions-mlops/, installed editable by `make setup`).
PLATFORM_PACKAGE = "actions_mlops"
PLATFORM_SOURCE = TEMPLATE / "actions-mlops" / "src" / PLATFORM_PACKAGE
LAUNCHER = Path(__file__).with_name("launch.py")
RESULTS = Path(__file__).resolve().parent / "results"
VENV = Path(sys.prefix)
PACKAGES = (
    "cookiecutter",
    "dvc",
    "bentoml",
    "scikit-learn",
    "pandas",
    "numpy",
    "pyarrow",
    "pandera",
    "skops",
    "uv",
    "starlette",
    "uvicorn",
)
# Every child gets these: no usage reports, and this environment's tools first on PATH.
QUIET = {"BENTOML_DO_NOT_TRACK": "True", "DVC_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1"}


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: ours, with the venv first on PATH."""
    path = os.pathsep.join([str(VENV / "bin"), os.environ.get("PATH", "")])
    return {**os.environ, **QUIET, "PATH": path, **extra}


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    meminfo = Path("/proc/meminfo")
    memory_gb = None
    if meminfo.exists():
        kb = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory_gb = round(kb / 1024**2, 1)
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=TEMPLATE, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": memory_gb,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "template_commit": commit or None,
    }


@dataclass
class Run:
    """One measured child process."""

    command: str
    returncode: int
    wall_s: float
    cpu_s: float  # user + system time of the child and the children it waited for
    peak_rss_mb: float  # largest resident set of any one process in the child's tree
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def measure(
    command: list[str],
    cwd: Path,
    log: Path,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> Run:
    """Run `command` to the end (or kill its process group after `timeout` seconds), with its
    output appended to `log`. CPU and peak RSS are the command's own, as bench/launch.py reads
    them from wait4 (see there why the command is not started from this process directly)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out, tempfile.TemporaryDirectory() as scratch:
        out.write(f"\n$ {' '.join(command)}   (in {cwd})\n")
        out.flush()
        usage_file = Path(scratch) / "usage.json"
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-I", str(LAUNCHER), str(usage_file), *command],
            cwd=cwd,
            env=env or child_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        process.wait()
        wall = time.perf_counter() - start
        if timer:
            timer.cancel()
        usage = json.loads(usage_file.read_text()) if usage_file.exists() else {}
    return Run(
        command=" ".join(command),
        returncode=process.returncode,
        wall_s=round(wall, 3),
        cpu_s=round(usage.get("cpu_s", 0.0), 3),
        peak_rss_mb=round(usage.get("peak_rss_kb", 0) / 1024, 1),
        timed_out=expired.is_set(),
    )


def require(run: Run, log: Path) -> Run:
    """Stop the benchmark with the end of the log when a step it depends on failed."""
    if not run.ok:
        tail = log.read_text(errors="replace")[-3000:]
        why = "timed out" if run.timed_out else f"exit {run.returncode}"
        raise RuntimeError(f"{run.command} failed ({why}); end of {log}:\n{tail}")
    return run


def bake(output: Path, **context: str) -> Path:
    """Bake the template into `output` (cookiecutter's API, as the tests do)."""
    output.mkdir(parents=True, exist_ok=True)
    return Path(
        cookiecutter(str(TEMPLATE), no_input=True, extra_context=context, output_dir=str(output))
    )


def git_identity(project: Path) -> None:
    """A committer for the baked project's own repository (DVC and the registry need git)."""
    for key, value in (("user.email", "bench@example.com"), ("user.name", "bench")):
        subprocess.run(["git", "config", key, value], cwd=project, check=True)


def fit_exponent(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) on log(x): y ~ x**slope."""
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(points) < 2:
        return None
    mx = sum(p[0] for p in points) / len(points)
    my = sum(p[1] for p in points) / len(points)
    sxx = sum((p[0] - mx) ** 2 for p in points)
    return round(sum((p[0] - mx) * (p[1] - my) for p in points) / sxx, 3) if sxx else None


def ratio(numerator: float | None, denominator: float | None, digits: int = 2) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, digits)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(title: str, columns: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table, right-aligned numbers, printed and returned."""
    cells = [columns, *[[fmt(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]

    def line(row: list[str]) -> str:
        parts = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    text = "\n".join([title, line(columns), line(["-" * w for w in widths]), *map(line, cells[1:])])
    print(text + "\n", flush=True)
    return text


def targets_table(targets: list[dict[str, Any]]) -> str:
    """Targets of issue 9 with the measured value and a verdict."""
    rows = [
        [t["target"], t["measured"], t["limit"], None if t["met"] is None else t["met"]]
        for t in targets
    ]
    return table("targets", ["target", "measured", "limit", "met"], rows)


def target(name: str, measured: float | None, limit: float, higher_is_better: bool = False):
    if measured is None:
        return {"target": name, "measured": None, "limit": limit, "met": None}
    measured = float(measured)
    met = measured >= limit if higher_is_better else measured <= limit
    return {"target": name, "measured": measured, "limit": limit, "met": bool(met)}


def write_result(
    name: str, payload: dict[str, Any], tables: list[str], started: float, quick: bool = False
) -> Path:
    """bench/results/<name>.json: the machine, the numbers and the printed tables (a --quick
    smoke run writes <name>.json.tmp, ignored by git, so it never replaces real numbers)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration_s": round(time.perf_counter() - started, 1),
        "machine": {**machine(), "template_dirty": dirty(TEMPLATE, measured_paths(name))},
        **payload,
        "tables": tables,
    }
    path = RESULTS / f"{name}.json{'.tmp' if quick else ''}"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{name}: wrote {path.relative_to(TEMPLATE)} ({document['duration_s']} s)\n", flush=True)
    return path
