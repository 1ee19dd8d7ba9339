"""Service: one registered model version behind an HTTP API (BentoML 1.4).

The request schema is generated at import from the data contract saved with the model: every
feature present and typed (no coercion: "1.5" is not a float), unknown fields rejected, NaN and
infinity rejected, `null` only where the contract allows missing values, and
between 1 and `serve.max_records` records. A bad request gets a 400 that names each problem.

Every answered request is appended to the prediction log (`predictionlog.py`: folder
PREDICTION_LOG_DIR, default logs/predictions; PREDICTION_LOG=off turns it off) under a request
id: the client's X-Request-ID header when it sends one, else a new one, returned in the body
and the X-Request-ID header so labels can be joined later (`make monitor LABELS=...`).

Which model: the bento arguments `model_tag` and `max_records`, fixed by `make package`. Run
from source, the newest version of params `registry.model` in the BentoML store and params
`serve.max_records`:
    bentoml serve {{ cookiecutter.package }}.service:ModelService
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import bentoml
import numpy as np
import pandas as pd
from bentoml.exceptions import InvalidArgument
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.responses import JSONResponse

from {{ cookiecutter.package }}.config import (
    CONTRACT_FILE,
    MODEL_FILE,
    load_params,
)
from {{ cookiecutter.package }}.contract import (
    PANDAS_DTYPES,
    Column,
    Contract,
    load_contract,
)
from {{ cookiecutter.package }}.modelfile import load_model
from {{ cookiecutter.package }}.predictionlog import PredictionLog

JSON_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}
FLOAT32_MAX = float(np.finfo(np.float32).max)
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class Settings(BaseModel):
    """What one bento serves."""

    model_tag: str
    max_records: int = Field(gt=0)


def settings() -> Settings:
    """The bento arguments when packaged, else the project's params.yaml (run from source)."""
    given = vars(bentoml.use_arguments())
    if given:
        return Settings(**given)
    params = load_params()
    return Settings(
        model_tag=f"{params.registry.model}:latest", max_records=params.serve.max_records
    )


def accepts_missing(column: Column) -> bool:
    """Whether `null` is a valid value: unless the contract sets `max_null_fraction: 0`."""
    return column.max_null_fraction != 0


def record_model(contract: Contract) -> type[BaseModel]:
    """A strict pydantic model of one record: the contract's features, nothing else."""
    fields: dict[str, Any] = {}
    for index, name in enumerate(contract.features):
        column = contract.columns[name]
        kind = JSON_TYPES[column.dtype]
        extra = {"allow_inf_nan": False} if kind is float else {}
        if kind is int:  # beyond 2**53 an int has no exact float64 (the model's dtype)
            extra = {"ge": -(2**53), "le": 2**53}
        annotation = kind | None if accepts_missing(column) else kind
        # Python names are positional; clients use the contract's names (aliases).
        fields[f"feature_{index}"] = (annotation, Field(alias=name, strict=True, **extra))
    return create_model("Record", __config__=ConfigDict(extra="forbid"), **fields)


def request_model(record: type[BaseModel], max_records: int) -> type[BaseModel]:
    """The request body: `{"records": [record, ...]}` with 1 to `max_records` records."""
    records = Field(min_length=1, max_length=max_records, description="records to predict")
    return create_model(
        "PredictRequest", __config__=ConfigDict(extra="forbid"), records=(list[record], records)
    )


def to_frame(records: list[BaseModel], contract: Contract) -> pd.DataFrame:
    """Records as the frame the model was trained on: contract order and pandas dtypes."""
    frame = pd.DataFrame([r.model_dump(by_alias=True) for r in records], columns=contract.features)
    for name in contract.features:
        column = frame[name]
        if contract.columns[name].dtype == "bool":
            column = column.map(lambda value: None if value is None else str(value))
        frame[name] = column.astype(PANDAS_DTYPES[contract.columns[name].dtype])
    return frame


def request_id(header: str | None) -> str:
    """The client's X-Request-ID when it is a sane token, else a new random id."""
    if header and REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class PredictResponse(BaseModel):
    """What the model said, which registered version said it, and the request's log id."""

    model: str
    model_version: str
    request_id: str
    predictions: list[str | int | float | bool]
    probabilities: list[dict[str, float]] | None = Field(
        default=None, description="classification: probability of each class, per record"
    )


class JsonOnly:
    """ASGI middleware: a prediction request that is not JSON gets a 415 (BentoML would parse
    some, e.g. multipart without a boundary, into a 500)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/predict":
            header = dict(scope["headers"]).get(b"content-type", b"application/json")
            if header.split(b";")[0].strip().lower() != b"application/json":
                error = {"error": "Content-Type must be application/json"}
                await JSONResponse(error, status_code=415)(scope, receive, send)
                return
        await self.app(scope, receive, send)


SETTINGS = settings()
MODEL = bentoml.models.BentoModel(SETTINGS.model_tag)
STORED = MODEL.resolve()
CONTRACT = load_contract(Path(STORED.path_of(CONTRACT_FILE.name)))
Record = record_model(CONTRACT)
PredictRequest = request_model(Record, SETTINGS.max_records)


@bentoml.service(name=STORED.tag.name, traffic={"timeout": 30})
class ModelService:
    """Predictions of one registered model version."""

    model_ref = MODEL

    def __init__(self) -> None:
        self.model = load_model(Path(self.model_ref.path_of(MODEL_FILE.name)))
        self.labels = self.model_ref.info.labels
        self.classes = [str(c) for c in getattr(self.model, "classes_", [])]
        self.log = None if os.environ.get("PREDICTION_LOG") == "off" else PredictionLog()

    @bentoml.api(route="/predict", input_spec=PredictRequest)
    def predict(self, records: list[BaseModel], ctx: bentoml.Context) -> PredictResponse:
        """Predict every record; classification adds each class's probability."""
        encoded = self.model[:-1].transform(to_frame(records, CONTRACT))
        # Tree estimators compute in float32: a value beyond its range would fail as a 500.
        too_large = np.flatnonzero((np.abs(encoded) >= FLOAT32_MAX).any(axis=1))
        if too_large.size:
            raise InvalidArgument(f"records {too_large.tolist()}: values too large for the model")
        estimator = self.model[-1]
        probabilities = None
        if self.labels["task"] == "classification":
            probabilities = [
                dict(zip(self.classes, map(float, row), strict=True))
                for row in estimator.predict_proba(encoded)
            ]
        response = PredictResponse(
            model=self.model_ref.tag.name,
            model_version=self.labels["version"],
            request_id=request_id(ctx.request.headers.get("x-request-id")),
            predictions=estimator.predict(encoded).tolist(),
            probabilities=probabilities,
        )
        ctx.response.headers["X-Request-ID"] = response.request_id
        if self.log is not None:  # never fails the request: see PredictionLog.write
            inputs = [record.model_dump(by_alias=True) for record in records]
            self.log.write(
                response.request_id,
                response.model_version,
                inputs,
                response.predictions,
                response.probabilities,
            )
        return response


ModelService.add_asgi_middleware(JsonOnly)
