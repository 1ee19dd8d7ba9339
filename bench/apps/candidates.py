"""Fit candidate estimators in a baked project with the project's own code, one after another:
`train.build_model` (the project's features + the estimator), `modelfile.save_model` and
`load_model` (the skops file, its types checked as `make evaluate` checks them), then
`evaluate.predict` and `evaluate.metric_table` on the test split (the numbers `make evaluate`
writes and the gate reads). Run in the project's folder, after its split stage.

`python -m bench.apps.candidates CANDIDATES_JSON OUT_DIR FITS CALLS SECONDS` prints one JSON line
per candidate. CANDIDATES_JSON: a list of {"name", "estimator", "params"}.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

PACKAGE = os.environ["BENCH_PACKAGE"]
WARMUP = 5  # first predict calls, not timed: they fill caches


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def predict_once(model: Any, record: Any) -> tuple[float, float]:
    """One record through the whole fitted pipeline, in this process, as the service's handler
    calls it: predict, plus predict_proba for a classifier. Wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.predict(record)
    if hasattr(model, "predict_proba"):
        model.predict_proba(record)
    return time.perf_counter() - wall, time.process_time() - cpu


def predict_p50_ms(models: dict[str, Any], record: Any, calls: int, seconds: float) -> dict:
    """p50/p99 per model, the models taking turns call by call (each meets the same load of a
    shared machine), until each has `calls` calls or `seconds` have passed. CPU time as well as
    wall time: on one thread it is the call's own work, which other processes do not inflate."""
    for model in models.values():
        for _ in range(WARMUP):  # the first calls fill caches
            predict_once(model, record)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    deadline = time.perf_counter() + seconds * len(models)
    for i in range(calls):
        for name, model in models.items():
            times[name].append(predict_once(model, record))
        if time.perf_counter() > deadline and i >= 2:
            break
    result = {}
    for name, measured in times.items():
        wall = statistics.quantiles([w for w, _ in measured], n=100)
        cpu = statistics.quantiles([c for _, c in measured], n=100)
        result[name] = {
            "calls": len(measured),
            "p50_ms": round(cpu[49] * 1000, 3),
            "p99_ms": round(cpu[98] * 1000, 3),
            "wall_p50_ms": round(wall[49] * 1000, 3),
            "wall_p99_ms": round(wall[98] * 1000, 3),
        }
    return result


def main(candidates_file: str, out: str, fits: str, calls: str, seconds: str) -> int:
    config, contract_module = module("core.config"), module("data.contract")
    modelfile, features = module("core.modelfile"), module("data.features")
    train_module, evaluate = module("training.train"), module("training.evaluate")
    tables = module("data.tables")
    params, contract = config.load_params(), contract_module.load_contract()
    train = tables.read_table(config.TRAIN_SPLIT, contract)
    test = tables.read_table(config.TEST_SPLIT, contract)
    x, y = features.training_input(train, contract), train[contract.target]
    record = test[contract.features].iloc[[0]]  # one record, typed as the pipeline reads it
    primary = params.evaluate.primary
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    results, loaded = [], {}
    for candidate in json.loads(Path(candidates_file).read_text()):
        model_params = config.ModelParams(candidate["estimator"], candidate["params"])
        fit_s, fit_cpu_s = [], []
        for _ in range(int(fits)):
            model = train_module.build_model(contract, model_params)
            start, cpu = time.perf_counter(), time.process_time()
            model.fit(x, y)
            fit_s.append(time.perf_counter() - start)
            fit_cpu_s.append(time.process_time() - cpu)
        path = folder / f"{candidate['name']}.skops"
        modelfile.save_model(model, path)
        loaded[candidate["name"]] = modelfile.load_model(path)
        predictions = evaluate.predict(loaded[candidate["name"]], test, contract, params.task)
        metrics = evaluate.metric_table(predictions, params.evaluate)
        results.append(
            {
                **candidate,
                "primary": primary,
                "direction": module("training.metrics").direction(primary),
                "metric": metrics[primary],
                "metrics": metrics,
                "train_rows": len(train),
                "test_rows": len(test),
                "train_s": round(statistics.median(fit_cpu_s), 4),  # CPU, as predict
                "train_wall_s": round(statistics.median(fit_s), 4),
                "train_runs_wall_s": [round(s, 4) for s in fit_s],
                "model_bytes": path.stat().st_size,
            }
        )
    timed = predict_p50_ms(loaded, record, int(calls), float(seconds))
    for result in results:
        print(json.dumps({**result, "predict_1": timed[result["name"]]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
