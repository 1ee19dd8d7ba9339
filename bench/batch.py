"""Batch scoring (`make predict`): rows/s and peak memory of in-process chunked scoring and of
Spark local[2] on the default example's shape, next to the bare pipeline's predict_proba on the
same table read whole (the floor).

The default project is baked and trained by its own stages (ingest, split, train: the template's
default estimator); its raw rows are resampled, with 1% noise, into Parquet tables of 10k and
1M rows (10M with BENCH_BATCH_10M=1), row groups of 100k. Each way of scoring runs in its own
process (bench/apps/batch_score.py), timed from its first read to its last write; peak memory is
the summed RSS of the process and its children (Spark's JVM and Python workers), sampled every
0.1 s. From the two sizes: each way's fixed cost and per-row cost (time = a + rows / rate), the
cross-over size where Spark local[2] beats in-process on this machine (none when Spark's
per-row rate is the lower), and a runner estimate from the measured per-core rates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from bench.common import PLATFORM_PACKAGE, TEMPLATE, bake, measure, require, table, write_result

NAME = "batch-spark"
# The small size measures each way's fixed cost (Spark's session and Python workers).
SIZES, QUICK_SIZES = [10_000, 1_000_000], [10_000, 60_000]
SPARK = "local[2]"
MODES = ["floor", "chunked", SPARK]
RUNNERS = {"GitHub runner, public (4 cores, 16 GB)": 4, "GitHub runner, private (2 cores, 7 GB)": 2}


def prepare(work: Path, context: dict[str, Any]) -> tuple[Path, dict[str, str]]:
    """The default project, baked and trained by its own stages."""
    project = bake(work, init_git="no")
    env = context["env"](PYTHONPATH=os.pathsep.join([str(TEMPLATE), str(project / "src")]))
    log = work / "prepare.log"
    python = str(context["venv"] / "bin" / "python")
    for step in ("ingest", "split", "train"):
        require(measure([python, "-m", PLATFORM_PACKAGE, step], project, log, env), log)
    return project, env


def make_table(project: Path, rows: int, path: Path) -> None:
    """`rows` of the raw table's features resampled with 1% noise, in row groups of 100k."""
    contract = yaml.safe_load((project / "contract.yaml").read_text())["columns"]
    raw = yaml.safe_load((project / "params.yaml").read_text())["data"]["raw"]
    source = pd.read_csv(project / raw) if raw.endswith(".csv") else pd.read_parquet(project / raw)
    features = [n for n, c in contract.items() if c.get("role", "feature") == "feature"]
    source = source[features]
    rng = np.random.default_rng(0)
    with pq.ParquetWriter(path, pa.Schema.from_pandas(source, preserve_index=False)) as writer:
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            part = source.iloc[rng.integers(0, len(source), n)].reset_index(drop=True)
            numeric = part.select_dtypes("number").columns
            part[numeric] = part[numeric] * rng.normal(1, 0.01, (n, len(numeric)))
            writer.write_table(pa.Table.from_pandas(part, preserve_index=False))


def run_mode(mode: str, project: Path, env: dict[str, str], data: Path, log: Path) -> dict:
    """One way of scoring in its own process: its JSON line and the tree's peak summed RSS."""
    command = [sys.executable, "-m", "bench.apps.batch_score", mode]
    command += [str(project / "models" / "model.skops"), str(project / "contract.yaml")]
    command += [str(data), str(data.with_name(f"{data.stem}-{mode[:5]}-out.parquet"))]
    with log.open("a") as errors:
        process = subprocess.Popen(
            command, cwd=TEMPLATE, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        peak, root = 0, psutil.Process(process.pid)
        while process.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)
        output = process.stdout.read() if process.stdout else ""
    if process.returncode != 0:
        raise RuntimeError(f"{mode} failed: {log.read_text(errors='replace')[-3000:]}")
    result = json.loads(output.strip().splitlines()[-1])
    return result | {"peak_rss_mb": round(peak / 2**20, 1)}


def fit(results: list[dict], mode: str) -> tuple[float, float]:
    """time = fixed + rows / rate, through the mode's smallest and largest sizes: (fixed s,
    rows/s); when the larger took no longer (a loaded machine), the larger's plain rate."""
    ordered = sorted((r for r in results if r["mode"] == mode), key=lambda r: r["rows"])
    small, large = ordered[0], ordered[-1]
    if large["seconds"] <= small["seconds"]:
        return 0.0, large["rows"] / large["seconds"]
    rate = (large["rows"] - small["rows"]) / (large["seconds"] - small["seconds"])
    return max(small["seconds"] - small["rows"] / rate, 0.0), rate


def run(context: dict[str, Any]) -> None:
    started = time.perf_counter()
    work = Path(context["tmp"]) / "batch"
    work.mkdir(parents=True, exist_ok=True)
    project, env = prepare(work, context)
    sizes = QUICK_SIZES if context.get("quick") else SIZES
    if os.environ.get("BENCH_BATCH_10M") == "1" and not context.get("quick"):
        sizes = [*sizes, 10_000_000]
    results = []
    for rows in sizes:
        data = work / f"table-{rows}.parquet"
        make_table(project, rows, data)
        for mode in MODES:
            found = run_mode(mode, project, env, data, work / "modes.log")
            found["rows_per_s"] = round(found["rows"] / found["seconds"])
            results.append(found)
            print(f"batch: {rows} rows, {mode}: {found}", flush=True)
        data.unlink()
    floor = {r["rows"]: r["rows_per_s"] for r in results if r["mode"] == "floor"}
    rows = [
        [r["rows"], r["mode"], r["seconds"], r["rows_per_s"], r["peak_rss_mb"]]
        + [round(floor[r["rows"]] / r["rows_per_s"], 2)]
        for r in results
    ]
    columns = ["rows", "way", "seconds", "rows/s", "peak RSS MB", "× floor time"]
    tables = [table("batch: scoring a table (default example's shape)", columns, rows)]
    costs = {mode: fit(results, mode) for mode in ("chunked", SPARK)}
    (a_local, rate_local), (a_spark, rate_spark) = costs["chunked"], costs[SPARK]
    crossover = (
        round((a_spark - a_local) / (1 / rate_local - 1 / rate_spark))
        if rate_spark > rate_local
        else None
    )
    per_core = {"chunked": rate_local, SPARK: rate_spark / 2}  # local[2]: two cores
    estimates = [
        [runner, round(rate_local), round(per_core[SPARK] * cores)]
        for runner, cores in RUNNERS.items()
    ]
    tables.append(
        table(
            "batch: fixed cost and per-row rate (time = fixed + rows / rate)",
            ["way", "fixed s", "rows/s"],
            [[mode, round(a, 1), round(rate)] for mode, (a, rate) in costs.items()],
        )
    )
    tables.append(
        table(
            "batch: estimate on a runner (in process: one core; Spark local[N]: per-core × N)",
            ["runner", "in process rows/s", "Spark local[N] rows/s"],
            estimates,
        )
    )
    verdict = (
        f"Spark local[2] pays off above about {crossover:,} rows on this machine"
        if crossover
        else "Spark local[2] does not pay off on this machine at any size (its per-row rate is "
        "below in-process scoring's): use it for tables beyond one machine's disk or time"
    )
    print(f"batch: {verdict}\n", flush=True)
    payload = {
        "sizes": sizes,
        "results": results,
        "fits": {mode: {"fixed_s": a, "rows_per_s": rate} for mode, (a, rate) in costs.items()},
        "crossover_rows": crossover,
        "verdict": verdict,
        "runner_estimates": estimates,
    }
    write_result(NAME, payload, tables, started, context.get("quick", False))
