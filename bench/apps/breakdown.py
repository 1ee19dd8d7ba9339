"""Where one request's time goes inside the project's service, part by part, in-process: each
part is what `<package>.serving.service:ModelService.predict` does with a request body, timed
alone with perf_counter over many repetitions (p50):

- validation: the JSON body into the request model (`PredictRequest.model_validate_json`, the
  strict schema BentoML validates against);
- conversion: the validated records into plain dicts (`model_dump(by_alias=True)`);
- preprocessing: the compiled fast path (`serving/fastpath.py`) and, for comparison, the
  pipeline's own ColumnTransformer on a DataFrame (the path before the fast path, FAST_PATH=off);
- estimator: what the service asks of the estimator (`fastpath.estimator_outputs`: clip,
  predict_proba, and predict unless the class is read from the probabilities);
- response: the out-of-contract flags, the class-probability dicts and the response model;
- logging: one prediction-log write (PREDICTION_LOG_DIR, a scratch folder).

Also, for the issue's goals: the bare estimator's predict_proba (predict for a regressor) on one
prepared row, and a bare LogisticRegression's predict_proba on the same row (fitted here on the
body's prepared rows: any fitted LogisticRegression of that width costs the same).

Needs the model in the BentoML store (BENTOML_HOME), as the service does.
`python -m bench.apps.breakdown [--quick] BODY_FILE...` prints one JSON line per file.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.linear_model import LogisticRegression

PACKAGE = os.environ["BENCH_PACKAGE"]
SECONDS, QUICK_SECONDS = 2.0, 0.3  # time budget per part
MAX_CALLS = 2000


def p50_ms(call: Callable[[], Any], seconds: float) -> float:
    """Median time of `call` in ms over up to MAX_CALLS calls within `seconds` (after 3 warm-up
    calls)."""
    for _ in range(3):
        call()
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < MAX_CALLS and (len(times) < 5 or time.perf_counter() < deadline):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 4)


class Served:
    """The project's service module, its model and both preprocessing paths, loaded once."""

    def __init__(self) -> None:
        self.service = importlib.import_module(f"{PACKAGE}.serving.service")
        self.fastpath = importlib.import_module(f"{PACKAGE}.serving.fastpath")
        modelfile = importlib.import_module(f"{PACKAGE}.core.modelfile")
        service = self.service
        self.contract = service.CONTRACT
        self.model = modelfile.load_model(Path(service.STORED.path_of(service.MODEL_FILE.name)))
        self.estimator = self.model[-1]
        self.classify = is_classifier(self.estimator)
        self.classes = [str(c) for c in getattr(self.model, "classes_", [])]
        self.compiled, self.fallback_reason = self.fastpath.preprocessor(self.model, self.contract)
        self.pipeline = self.fastpath.PipelineFeatures(self.model, self.contract)
        masked = [n for n in self.contract.features if self.contract.columns[n].pii]
        self.log = service.prediction_log(service.SETTINGS, masked)


def breakdown(served: Served, body: bytes, seconds: float) -> dict[str, Any]:
    """Each part's p50 for one request body, and the two bare calls."""
    service, fastpath, contract = served.service, served.fastpath, served.contract
    records = service.PredictRequest.model_validate_json(body).records
    inputs = [record.model_dump(by_alias=True) for record in records]
    encoded = fastpath.estimator_input(served.compiled(inputs))

    def outputs() -> tuple[Any, Any]:
        clipped = fastpath.estimator_input(encoded)
        return fastpath.estimator_outputs(served.estimator, clipped, served.classify)

    found, probabilities = outputs()

    def respond() -> Any:
        shares = None
        if probabilities is not None:
            shares = [
                dict(zip(served.classes, map(float, row), strict=True)) for row in probabilities
            ]
        return service.PredictResponse(
            model="bench",
            model_version="v0.0.1",
            request_id=service.request_id(None),
            predictions=found.tolist(),
            probabilities=shares,
            warnings=[service.record_flags(values, contract) for values in inputs],
        )

    response = respond()
    flags = [[flag.model_dump() for flag in flags] for flags in response.warnings]

    def write_log() -> None:
        served.log.write(
            response.request_id,
            response.model_version,
            inputs,
            response.predictions,
            response.probabilities,
            flags,
        )

    row = encoded[:1]
    bare = served.estimator.predict_proba if served.classify else served.estimator.predict
    doubled = np.vstack([encoded, encoded])  # two labels even for one record
    logistic = LogisticRegression(max_iter=1000).fit(doubled, np.arange(len(doubled)) % 2)
    parts = {
        "validation": p50_ms(lambda: service.PredictRequest.model_validate_json(body), seconds),
        "conversion": p50_ms(lambda: [r.model_dump(by_alias=True) for r in records], seconds),
        "preprocessing compiled": p50_ms(lambda: served.compiled(inputs), seconds),
        "preprocessing pipeline": p50_ms(lambda: served.pipeline(inputs), seconds),
        "estimator": p50_ms(outputs, seconds),
        "response": p50_ms(respond, seconds),
        "logging": p50_ms(write_log, seconds) if served.log is not None else 0.0,
    }
    if served.classify:  # what the service asked before: two passes through the model

        def both() -> tuple[Any, Any]:
            clipped = fastpath.estimator_input(encoded)
            return served.estimator.predict_proba(clipped), served.estimator.predict(clipped)

        parts["estimator, predict_proba + predict"] = p50_ms(both, seconds)
    return {
        "records": len(records),
        "estimator": type(served.estimator).__name__,
        "served_path": served.compiled.name,
        "fallback_reason": served.fallback_reason,
        "parts_ms": parts,
        "bare_estimator_row_ms": p50_ms(lambda: bare(row), seconds),
        "bare_logistic_row_ms": p50_ms(lambda: logistic.predict_proba(row), seconds),
    }


def main(arguments: list[str]) -> int:
    seconds = QUICK_SECONDS if "--quick" in arguments else SECONDS
    served = Served()
    for path in [a for a in arguments if not a.startswith("--")]:
        print(json.dumps(breakdown(served, Path(path).read_bytes(), seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
