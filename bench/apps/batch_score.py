"""One way of scoring a Parquet table, timed from the first read to the last write (start-up
left out): `python -m bench.apps.batch_score MODE model.skops contract.yaml data out`.

MODE: `floor` (the table read whole, the loaded pipeline's predict_proba on it, nothing
checked or written), `chunked` (release/predict.py in process, chunks of 100,000 rows) or a
Spark master URL (release/spark.py). Prints one JSON line: rows and seconds (Spark's: with its
session's start, which every job pays)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from actions_mlops.core.modelfile import load_model
from actions_mlops.data.contract import load_contract
from actions_mlops.release.predict import Scorer, predict


def main(mode: str, model_file: Path, contract_file: Path, data: Path, out: Path) -> None:
    model, contract = load_model(model_file), load_contract(contract_file)
    started = time.perf_counter()
    if mode == "floor":
        frame = pq.read_table(data, columns=list(contract.features)).to_pandas()
        model.predict_proba(frame)
        rows = len(frame)
    else:
        scorer = Scorer("v0.0.0", model, contract, [])
        if mode == "chunked":
            rows = predict(data, out, scorer, 100_000).rows
        else:
            from actions_mlops.release.spark import predict_spark

            rows = predict_spark(data, out, scorer, model_file, mode).rows
    seconds = time.perf_counter() - started
    print(json.dumps({"mode": mode, "rows": rows, "seconds": round(seconds, 3)}))


if __name__ == "__main__":
    mode, model_file, contract_file, data, out = sys.argv[1:6]
    main(mode, Path(model_file), Path(contract_file), Path(data), Path(out))
