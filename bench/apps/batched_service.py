"""(c, adaptive batching) The project's BentoML service with `batchable=True`: the same request
model (validation), the same preprocessing and model as `<package>.serving.service`, but concurrent
requests are merged into one model call. The project's service is not batchable, so this variant
lives here; it answers a list of per-record results instead of the project's response object.

`bentoml serve bench.apps.batched_service:BatchedService` (in the project folder).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import bentoml
from pydantic import BaseModel

service = importlib.import_module(f"{os.environ['BENCH_PACKAGE']}.serving.service")
fastpath = importlib.import_module(f"{os.environ['BENCH_PACKAGE']}.serving.fastpath")
modelfile = importlib.import_module(f"{os.environ['BENCH_PACKAGE']}.core.modelfile")


@bentoml.service(name="bench-batched", traffic={"timeout": 30})
class BatchedService:
    """Predictions of the project's model, batched across requests."""

    model_ref = service.MODEL

    def __init__(self) -> None:
        self.model = modelfile.load_model(Path(self.model_ref.path_of(service.MODEL_FILE.name)))
        self.classes = [str(c) for c in getattr(self.model, "classes_", [])]
        self.preprocess, _ = fastpath.preprocessor(self.model, service.CONTRACT)

    # max_latency_ms: 1000 (at 50 BentoML answered 503 "overloaded" on this machine);
    # max_batch_size counts records, so one batch holds up to serve.max_records of them.
    @bentoml.api(
        route="/predict",
        input_spec=service.PredictRequest,
        batchable=True,
        max_batch_size=service.SETTINGS.max_records,
        max_latency_ms=1000,
    )
    def predict(self, records: list[BaseModel]) -> list[dict[str, Any]]:
        """One result per record: the prediction and, for classification, the probabilities."""
        encoded = fastpath.estimator_input(
            self.preprocess([r.model_dump(by_alias=True) for r in records])
        )
        found, shares = fastpath.estimator_outputs(self.model[-1], encoded, bool(self.classes))
        predictions = found.tolist()
        if shares is None:
            return [{"prediction": p} for p in predictions]
        return [
            {
                "prediction": p,
                "probabilities": dict(zip(self.classes, map(float, row), strict=True)),
            }
            for p, row in zip(predictions, shares, strict=True)
        ]
