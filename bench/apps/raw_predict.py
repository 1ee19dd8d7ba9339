"""(a) The model called in-process: what one prediction costs with no HTTP, no JSON and no
validation. The request bodies are turned into frames once; each timed call is what the
service's handler does with the frame: predict and predict_proba.

`python -m bench.apps.raw_predict BODY_FILE...` prints one JSON line per file.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

PACKAGE = os.environ["BENCH_PACKAGE"]
PROJECT = Path(os.environ["BENCH_PROJECT"])
CALLS, SECONDS = 400, 4.0


def main(paths: list[str]) -> int:
    contract_module = importlib.import_module(f"{PACKAGE}.data.contract")
    contract = contract_module.load_contract(PROJECT / "contract.yaml")
    model = importlib.import_module(f"{PACKAGE}.core.modelfile").load_model(
        PROJECT / "models" / "model.skops"
    )
    dtypes = {
        n: contract_module.PANDAS_DTYPES[contract.columns[n].dtype] for n in contract.features
    }
    for path in paths:
        records = json.loads(Path(path).read_text())["records"]
        frame = pd.DataFrame.from_records(records, columns=contract.features).astype(dtypes)
        times = []
        deadline = time.perf_counter() + SECONDS
        for i in range(CALLS + 5):
            start = time.perf_counter()
            model.predict(frame)
            if hasattr(model, "predict_proba"):
                model.predict_proba(frame)
            if i >= 5:  # the first calls warm caches
                times.append(time.perf_counter() - start)
            if time.perf_counter() > deadline:
                break
        cuts = statistics.quantiles(times, n=100)
        print(
            json.dumps(
                {
                    "records": len(records),
                    "calls": len(times),
                    "p50_ms": round(cuts[49] * 1000, 3),
                    "p99_ms": round(cuts[98] * 1000, 3),
                    "mean_ms": round(statistics.fmean(times) * 1000, 3),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
