"""Pipeline scaling: the csv/classification project's stages on synthetic tables of growing size.

The table comes from the template's own example generator (scripts/make_examples.py: missing
values, string categories); each stage runs as `python -m <package> <stage>`, a child process
measured alone (wall, CPU, peak RSS). The estimator is LogisticRegression so that the numbers are
about the pipeline's own code (reading, validation, splitting, features, evaluation), not about
a random forest's fitting time. Then a no-op `dvc repro` on the largest table.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from bench.common import (
    PLATFORM_PACKAGE,
    TEMPLATE,
    bake,
    fit_exponent,
    git_identity,
    measure,
    ratio,
    require,
    table,
    target,
    targets_table,
    write_result,
)

NAME = "scaling"
SIZES = (10_000, 100_000, 1_000_000)
ESTIMATOR = {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 500}}
STAGE_TIMEOUT = 600


def generator():
    """scripts/make_examples.py, imported from its file (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "make_examples", TEMPLATE / "scripts" / "make_examples.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthetic(rows: int, seed: int = 0) -> pd.DataFrame:
    """`rows` rows of the churn example; tenure capped at the contract's range, which a table
    this large would otherwise exceed in a few rows (gamma tail)."""
    examples = generator()
    examples.ROWS = rows
    frame = examples.churn(np.random.default_rng(seed))
    frame["tenure_months"] = frame["tenure_months"].clip(upper=160)
    return frame


def in_memory_mb(csv: Path, contract: dict[str, Any]) -> float:
    """The table's size in memory as the pipeline reads it (contract dtypes, deep)."""
    dtypes = {n: "str" for n, c in contract["columns"].items() if c["dtype"] in ("str", "bool")}
    frame = pd.read_csv(csv, dtype=dtypes)
    return float(frame.memory_usage(deep=True).sum()) / 1024**2


def set_raw(project: Path, raw: Path) -> None:
    """Point params.yaml data.raw (read by the pipeline and by dvc.yaml) at `raw`."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"]["raw"] = raw.relative_to(project).as_posix()
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def raw_formats(project, stages, contract, measure_stage) -> tuple[list[list[Any]], dict]:
    """The stages that read the raw table, on the same rows as CSV and as Parquet, interleaved
    (csv, parquet, csv, parquet; the faster run of each kept) so both meet the same machine."""
    csv = project / "data" / "raw" / "dataset.csv"
    parquet = csv.with_suffix(".parquet")
    dtypes = {n: "str" for n, c in contract["columns"].items() if c["dtype"] in ("str", "bool")}
    pd.read_csv(csv, dtype=dtypes).to_parquet(parquet, index=False)
    best: dict[tuple[str, str], Any] = {}
    splits: dict[str, str] = {}
    for _ in range(2):
        for raw in (csv, parquet):
            set_raw(project, raw)
            for stage in ("validate", "split"):
                result = measure_stage(stage)
                key = (raw.suffix, stage)
                if key not in best or result.wall_s < best[key].wall_s:
                    best[key] = result
            train = project / "data" / "split" / "train.parquet"
            splits[raw.suffix] = hashlib.md5(train.read_bytes()).hexdigest()
    set_raw(project, csv)
    rows = [
        [
            stage,
            best[(".csv", stage)].wall_s,
            best[(".parquet", stage)].wall_s,
            ratio(best[(".csv", stage)].wall_s, best[(".parquet", stage)].wall_s),
            best[(".csv", stage)].peak_rss_mb,
            best[(".parquet", stage)].peak_rss_mb,
            ratio(best[(".csv", stage)].peak_rss_mb, best[(".parquet", stage)].peak_rss_mb),
        ]
        for stage in ("validate", "split")
    ]
    rows.append(
        [
            "file MB",
            None,
            None,
            None,
            round(csv.stat().st_size / 1024**2, 1),
            round(parquet.stat().st_size / 1024**2, 1),
            ratio(csv.stat().st_size, parquet.stat().st_size),
        ]
    )
    payload = {
        "runs": {f"{fmt}:{stage}": vars(r) for (fmt, stage), r in best.items()},
        "csv_mb": round(csv.stat().st_size / 1024**2, 2),
        "parquet_mb": round(parquet.stat().st_size / 1024**2, 2),
        "same_split": splits[".csv"] == splits[".parquet"],
    }
    return rows, payload


def run(context: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    sizes = (2_000, 4_000, 8_000) if context.get("quick") else SIZES
    work = Path(tempfile.mkdtemp(prefix="bench-scaling-", dir=context.get("tmp")))
    project = bake(work, task="classification", dataset="csv", project="scale-model")
    git_identity(project)
    package = PLATFORM_PACKAGE
    log = work / "scaling.log"
    env = context["env"](PYTHONPATH=str(project / "src"))
    python = str(context["venv"] / "bin" / "python")

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["model"] = ESTIMATOR
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    contract = yaml.safe_load((project / "contract.yaml").read_text())

    # The stages as dvc.yaml runs them (`python -m <package> <step>`), and each step's module.
    stages = {
        name: stage["cmd"].split()[1:]
        for name, stage in yaml.safe_load((project / "dvc.yaml").read_text())["stages"].items()
    }
    steps = (
        "import json; from {0}.cli import STEPS; "
        "print(json.dumps({{k: v[0] for k, v in STEPS.items()}}))"
    )
    modules = json.loads(
        subprocess.run(
            [python, "-c", steps.format(package)],
            cwd=project,
            env=env,
            text=True,
            capture_output=True,
            check=True,
        ).stdout
    )
    # What merely starting each stage costs: interpreter plus the module's imports.
    imports = {}
    for stage, module in ((name, modules[argv[-1]]) for name, argv in stages.items()):
        command = [python, "-c", f"import {package}.{module}"]
        imports[stage] = require(measure(command, project, log, env), log)

    rows_out, results = [], []
    raw = project / "data" / "raw" / "dataset.csv"
    for size in sizes:
        synthetic(size).to_csv(raw, index=False)
        data_mb = in_memory_mb(raw, contract)
        entry = {
            "rows": size,
            "csv_mb": round(raw.stat().st_size / 1024**2, 2),
            "in_memory_mb": round(data_mb, 2),
            "stages": {},
        }
        for stage, argv in stages.items():
            command = [python, *argv]
            result = require(measure(command, project, log, env, STAGE_TIMEOUT), log)
            entry["stages"][stage] = vars(result)
            rows_out.append(
                [
                    size,
                    stage,
                    result.wall_s,
                    result.cpu_s,
                    round(result.cpu_s - imports[stage].cpu_s, 2),
                    result.peak_rss_mb,
                    ratio(result.peak_rss_mb, data_mb),
                    ratio(result.peak_rss_mb - imports[stage].peak_rss_mb, data_mb),
                ]
            )
        entry["total_wall_s"] = round(sum(s["wall_s"] for s in entry["stages"].values()), 2)
        results.append(entry)
        print(f"scaling: {size:,} rows done ({entry['total_wall_s']} s)", flush=True)

    # A no-op `dvc repro` on the largest table: record the outputs just made, then repro twice
    # (the first may hash files DVC has not seen yet; the second is the steady state).
    require(measure(["dvc", "commit", "--force", "--quiet"], project, log, env), log)
    noop = [measure(["dvc", "repro"], project, log, env, 120) for _ in range(2)]
    dvc_start = measure(["dvc", "version"], project, log, env)
    reran = "Running stage" in log.read_text().split("$ dvc repro")[-1]

    def measure_stage(stage: str):
        return require(measure([python, *stages[stage]], project, log, env, STAGE_TIMEOUT), log)

    format_rows, formats = raw_formats(project, stages, contract, measure_stage)

    per_stage = table(
        "pipeline scaling (LogisticRegression; stages as child processes; "
        "import = `python -c 'import <module>'`)",
        [
            "rows",
            "stage",
            "wall s",
            "cpu s",
            "cpu - import s",
            "peak RSS MB",
            "RSS/data",
            "(RSS-import)/data",
        ],
        rows_out,
    )
    import_table = table(
        "stage start-up alone (interpreter + imports)",
        ["stage", "wall s", "cpu s", "peak RSS MB"],
        [[s, r.wall_s, r.cpu_s, r.peak_rss_mb] for s, r in imports.items()],
    )
    xs = [r["rows"] for r in results]
    fits = []
    exponents: dict[str, dict[str, float | None]] = {}
    for stage in (*stages, "total"):

        def values(key: str, stage: str = stage) -> list[float]:
            if stage == "total":
                return [sum(s[key] for s in r["stages"].values()) for r in results]
            return [r["stages"][stage][key] for r in results]

        start_cpu = (
            sum(r.cpu_s for r in imports.values()) if stage == "total" else imports[stage].cpu_s
        )
        marginal = [max(v - start_cpu, 1e-3) for v in values("cpu_s")]
        exponents[stage] = {
            "wall": fit_exponent(xs, values("wall_s")),
            "cpu": fit_exponent(xs, values("cpu_s")),
            "wall_largest_two": fit_exponent(xs[-2:], values("wall_s")[-2:]),
            # CPU beyond start-up, between the two largest tables: the pipeline's own growth
            # (noisy when the smaller table's share is under a second).
            "cpu_minus_import_largest_two": fit_exponent(xs[-2:], marginal[-2:]),
        }
        fits.append([stage, *exponents[stage].values()])
    exponent_table = table(
        f"fitted exponent b of time ~ rows**b over {', '.join(f'{x:,}' for x in xs)} rows",
        [
            "stage",
            "wall",
            "cpu",
            f"wall {xs[-2]:,}->{xs[-1]:,}",
            f"cpu - import {xs[-2]:,}->{xs[-1]:,}",
        ],
        fits,
    )
    largest = results[-1]
    peak = max(s["peak_rss_mb"] for s in largest["stages"].values())
    noop_table = table(
        f"no-op `dvc repro` ({largest['rows']:,} rows; {len(stages)} stages)",
        ["run", "wall s", "cpu s", "reran a stage"],
        [
            ["dvc repro (first after dvc commit)", noop[0].wall_s, noop[0].cpu_s, None],
            ["dvc repro (steady state)", noop[1].wall_s, noop[1].cpu_s, reran],
            ["dvc version (DVC start-up alone)", dvc_start.wall_s, dvc_start.cpu_s, None],
        ],
    )
    format_table = table(
        f"raw data as CSV vs Parquet ({largest['rows']:,} rows, params data.raw; faster of 2 "
        f"interleaved runs; split output identical: {'yes' if formats['same_split'] else 'NO'})",
        [
            "stage",
            "csv wall s",
            "parquet wall s",
            "csv/parquet",
            "csv RSS MB",
            "parquet RSS MB",
            "csv/parquet",
        ],
        format_rows,
    )
    targets = [
        target("time ~ rows**b, b (total wall)", exponents["total"]["wall"], 1.15),
        target("peak RSS / data in memory", ratio(peak, largest["in_memory_mb"]), 4.0),
        target(
            "(peak RSS - start-up RSS) / data in memory",
            max(
                ratio(s["peak_rss_mb"] - imports[name].peak_rss_mb, largest["in_memory_mb"])
                for name, s in largest["stages"].items()
            ),
            4.0,
        ),
        target("no-op dvc repro, s", noop[1].wall_s, 2.0),
    ]
    tables = [
        per_stage,
        import_table,
        exponent_table,
        noop_table,
        format_table,
        targets_table(targets),
    ]
    write_result(
        NAME,
        {
            "estimator": ESTIMATOR,
            "imports": {s: vars(r) for s, r in imports.items()},
            "sizes": results,
            "exponents": exponents,
            "noop_repro": [vars(r) for r in noop],
            "dvc_version": vars(dvc_start),
            "noop_reran_a_stage": reran,
            "raw_formats": formats,
            "targets": targets,
        },
        tables,
        started,
        quick=bool(context.get("quick")),
    )
    if not context.get("keep"):
        shutil.rmtree(work, ignore_errors=True)
    return {"targets": targets}


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main([NAME, *sys.argv[1:]]))
