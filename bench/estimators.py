"""Default estimator: candidate estimators side by side on every example the template ships
(the bundled scikit-learn data sets of cookiecutter.json and the csv example of each task).

Each example is baked with cookiecutter and its own stages (`python -m <package> ingest`,
`split`) write the splits; then bench/apps/candidates.py fits each candidate with the
project's own code: its feature pipeline, `save_model` (the skops file whose size is reported),
`load_model`, and `evaluate.metric_table` (the primary metric with the bootstrap interval
`make evaluate` writes, from params.yaml's evaluate.bootstrap). Train time: median CPU time of
the fits. Predict: one test record through the whole loaded pipeline, in-process (no HTTP, no
JSON, no validation), p50 CPU time of repeated calls of predict (+ predict_proba for a
classifier), the candidates taking turns call by call. One thread each (ONE_THREAD), so CPU time
is the call's own work: a shared machine's other processes inflate wall time (recorded too, as
wall_p50_ms) but not that.

The candidates: the baked project's own default (params.yaml model), RandomForest as the template
shipped it until this benchmark chose, HistGradientBoosting, and a linear model.

The rule that picks the template's default for a task (RULE below): among the candidates whose
primary-metric interval overlaps the best candidate's interval on every example of the task (no
example where the data tell them apart), the one whose slowest single-record predict p50 over
those examples is the lowest; a tie goes to the smaller model file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import (
    PLATFORM_PACKAGE,
    TEMPLATE,
    bake,
    measure,
    require,
    table,
    write_result,
)

NAME = "estimators"
RULE = (
    "per task: of the candidates whose primary-metric interval overlaps the best one's on every "
    "example, the lowest worst-case single-record predict p50 (in-process, CPU); tie: smaller file"
)
# (task, dataset) of every example the template bakes; --quick runs the first of each task.
EXAMPLES = [
    ("classification", "breast_cancer"),
    ("classification", "wine"),
    ("classification", "csv"),
    ("regression", "diabetes"),
    ("regression", "csv"),
]
RANDOM_FOREST = {  # the template's default before this benchmark (params.yaml until 2026-12)
    "classification": {
        "estimator": "sklearn.ensemble.RandomForestClassifier",
        "params": {"n_estimators": 200, "min_samples_leaf": 2, "random_state": 42, "n_jobs": 1},
    },
    "regression": {
        "estimator": "sklearn.ensemble.RandomForestRegressor",
        "params": {"n_estimators": 200, "min_samples_leaf": 3, "random_state": 42, "n_jobs": 1},
    },
}
CANDIDATES = {
    "classification": [
        ("random_forest", RANDOM_FOREST["classification"]),
        (
            "hist_gradient_boosting",
            {
                "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
                "params": {"random_state": 42},
            },
        ),
        (
            "logistic_regression",
            {
                "estimator": "sklearn.linear_model.LogisticRegression",
                "params": {"C": 1.0, "max_iter": 1000},
            },
        ),
    ],
    "regression": [
        ("random_forest", RANDOM_FOREST["regression"]),
        (
            "hist_gradient_boosting",
            {
                "estimator": "sklearn.ensemble.HistGradientBoostingRegressor",
                "params": {"random_state": 42},
            },
        ),
        ("ridge", {"estimator": "sklearn.linear_model.Ridge", "params": {"alpha": 1.0}}),
    ],
}
FITS, CALLS, SECONDS = 3, 300, 3.0
# Every candidate on one thread (the forest has n_jobs 1): HistGradientBoosting's OpenMP threads
# would otherwise fight the other processes of a shared machine, and its times say more about the
# machine's load than about the estimator.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
QUICK = {"fits": 1, "calls": 20, "seconds": 0.2}


def candidates_for(task: str, default: dict[str, Any]) -> list[dict[str, Any]]:
    """The task's candidates, the project's default first (named after its class) unless it is
    one of them already."""
    listed = [{"name": name, **model} for name, model in CANDIDATES[task]]
    same = [c for c in listed if c["estimator"] == default["estimator"]]
    for candidate in same:
        if candidate["params"] == (default.get("params") or {}):
            candidate["default"] = True
            return listed
    name = "default_" + default["estimator"].rpartition(".")[2]
    own = {"name": name, **default, "params": default.get("params") or {}, "default": True}
    return [own, *listed]


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"]


def choose(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per task, the candidate RULE picks, with the reasons."""
    chosen = {}
    for task in sorted({r["task"] for r in results}):
        rows = [r for r in results if r["task"] == task]
        examples = sorted({r["example"] for r in rows})
        names = sorted({r["name"] for r in rows})
        tied, best_of = [], {}
        for example in examples:
            here = [r for r in rows if r["example"] == example]
            sign = 1 if here[0]["direction"] == "higher" else -1
            best_of[example] = max(here, key=lambda r: sign * r["metric"]["value"])["name"]
        for name in names:
            mine = {r["example"]: r for r in rows if r["name"] == name}
            best = {r["example"]: r for r in rows if r["name"] == best_of[r["example"]]}
            if all(e in mine and overlaps(mine[e]["metric"], best[e]["metric"]) for e in examples):
                worst = max(mine[e]["predict_1"]["p50_ms"] for e in examples)
                size = max(mine[e]["model_bytes"] for e in examples)
                tied.append((worst, size, name))
        worst, size, name = min(tied)
        chosen[task] = {
            "name": name,
            "estimator": next(r["estimator"] for r in rows if r["name"] == name),
            "params": next(r["params"] for r in rows if r["name"] == name),
            "as_good_as_best": sorted(n for _, _, n in tied),
            "best_per_example": best_of,
            "worst_predict_p50_ms": worst,
            "largest_model_bytes": size,
        }
    return chosen


def prepare(work: Path, task: str, dataset: str, context: dict[str, Any]) -> tuple[Path, str]:
    """Bake the example and run its own stages up to the split (not validate: the examples
    are the template's own, validated by its tests)."""
    project = bake(work / f"{task}-{dataset}", task=task, dataset=dataset, init_git="no")
    package = PLATFORM_PACKAGE
    log = work / f"{task}-{dataset}.log"
    env = context["env"](PYTHONPATH=str(project / "src"))
    python = str(context["venv"] / "bin" / "python")
    steps = ["split"] if dataset == "csv" else ["ingest", "split"]  # the examples are valid
    for step in steps:
        require(measure([python, "-m", package, step], project, log, env), log)
    return project, package


def measure_example(
    work: Path, task: str, dataset: str, context: dict[str, Any]
) -> list[dict[str, Any]]:
    project, package = prepare(work, task, dataset, context)
    default = yaml.safe_load((project / "params.yaml").read_text())["model"]
    candidates = candidates_for(task, default)
    listing = work / f"{task}-{dataset}.candidates.json"
    listing.write_text(json.dumps(candidates))
    sizes = QUICK if context.get("quick") else {"fits": FITS, "calls": CALLS, "seconds": SECONDS}
    env = context["env"](
        **ONE_THREAD,
        BENCH_PACKAGE=package,
        PYTHONPATH=os.pathsep.join([str(TEMPLATE), str(project / "src")]),
    )
    log = work / f"{task}-{dataset}.log"
    command = [
        str(context["venv"] / "bin" / "python"),
        *("-m", "bench.apps.candidates", str(listing), str(work / f"{task}-{dataset}-models")),
        *(str(sizes["fits"]), str(sizes["calls"]), str(sizes["seconds"])),
    ]
    with log.open("a") as errors:
        done = subprocess.run(
            command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(command)} failed (exit {done.returncode}):\n{tail}")
    example = f"{dataset} ({task})" if dataset == "csv" else dataset
    return [
        {"task": task, "dataset": dataset, "example": example, **json.loads(line)}
        for line in done.stdout.splitlines()
        if line.strip()
    ]


def interval_text(metric: dict[str, float]) -> str:
    value, low, high = (metric[k] for k in ("value", "ci_low", "ci_high"))
    digits = 3 if abs(value) < 10 else 1
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def run(context: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-estimators-", dir=context.get("tmp")))
    examples = EXAMPLES
    if context.get("quick"):
        examples = [next(e for e in EXAMPLES if e[0] == task) for task in CANDIDATES]
    results: list[dict[str, Any]] = []
    for task, dataset in examples:
        results.extend(measure_example(work, task, dataset, context))
        print(f"estimators: {task}/{dataset} measured", flush=True)
    chosen = choose(results)
    rows = []
    for r in results:
        p50 = r["predict_1"]["p50_ms"]
        rows.append(
            [
                r["example"],
                r["name"] + (" *" if chosen[r["task"]]["name"] == r["name"] else ""),
                r["primary"],
                interval_text(r["metric"]),
                r["train_s"],
                p50,
                r["predict_1"]["wall_p50_ms"],
                round(r["model_bytes"] / 1024, 1),
            ]
        )
    tables = [
        table(
            "candidate estimators on each example (95% bootstrap interval of the primary metric "
            "on the test split; train: median fit, CPU s; predict: 1 record, whole pipeline, "
            "in-process, p50 CPU ms (wall ms beside it); * = chosen)",
            [
                "example",
                "candidate",
                "metric",
                "value [interval]",
                "train s",
                "predict ms",
                "wall ms",
                "KiB",
            ],
            rows,
        )
    ]
    tables.append(
        table(
            f"default per task ({RULE})",
            ["task", "chosen", "as good as the best", "worst predict ms", "largest KiB"],
            [
                [
                    task,
                    c["name"],
                    ", ".join(c["as_good_as_best"]),
                    c["worst_predict_p50_ms"],
                    round(c["largest_model_bytes"] / 1024, 1),
                ]
                for task, c in chosen.items()
            ],
        )
    )
    write_result(
        NAME,
        {"rule": RULE, "results": results, "chosen": chosen},
        tables,
        started,
        quick=bool(context.get("quick")),
    )
    return {"chosen": chosen}


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main([NAME, *sys.argv[1:]]))
