"""Write a prediction log of N records in the project folder it runs in (bench/monitor.py):
rows of data.raw resampled with noise, tenure shifted by 6 months in the second half, a new
category and an out-of-range charge every 10,000 records, probabilities from the trained model,
the service's flags; `per_request` records a request (1: every request id distinct)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from actions_mlops.core.config import load_params
from actions_mlops.data.contract import load_contract
from actions_mlops.data.tables import read_table
from actions_mlops.serving.flags import record_flags
from actions_mlops.serving.predictionlog import PredictionLog


def main(out: Path, total: int, per_request: int) -> None:
    params, contract = load_params(), load_contract()
    data = read_table(params.data.raw, contract)
    features = list(contract.features)
    path = "models/model.skops"
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    classes = [str(c) for c in model.classes_]
    rng = np.random.default_rng(5)
    log = PredictionLog(out, max_bytes=50_000_000, keep=1000)
    block = 200
    for start in range(0, total, block):
        seed = int(rng.integers(1 << 30))
        rows = data[features].sample(block, replace=True, random_state=seed)
        rows = rows.reset_index(drop=True)
        rows["monthly_charges"] = (rows["monthly_charges"] + rng.normal(0, 2, block)).round(2)
        if start >= total // 2:
            rows["tenure_months"] = rows["tenure_months"] + 6
        if start % 10_000 == 0:
            rows.loc[0, "region"], rows.loc[1, "monthly_charges"] = "mars", 999.0
        shares = model.predict_proba(rows)
        records = [
            {k: (None if pd.isna(v) else v) for k, v in r.items()}
            for r in rows.astype(object).to_dict("records")
        ]
        predictions = [classes[i] for i in shares.argmax(axis=1)]
        probabilities = [dict(zip(classes, map(float, s), strict=True)) for s in shares]
        flags = [[f.model_dump() for f in record_flags(r, contract)] for r in records]
        for first in range(0, block, per_request):
            part = slice(first, first + per_request)
            log.write(
                f"req-{start + first:08d}",
                "v1.0.0",
                records[part],
                predictions[part],
                probabilities[part],
                flags[part],
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
