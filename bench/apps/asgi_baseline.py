"""(b) The smallest honest HTTP baseline: Starlette + uvicorn, the same model file as the project's
service, the same JSON in and out (`{"records": [...]}` -> predictions and class probabilities),
the model called in a worker thread as BentoML calls a sync API. No input validation beyond what
pandas does: the difference from (c) is what validation and BentoML add.

`uvicorn bench.apps.asgi_baseline:app --host 127.0.0.1 --port P`
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pandas as pd
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

PACKAGE = os.environ["BENCH_PACKAGE"]
PROJECT = Path(os.environ["BENCH_PROJECT"])
contract_module = importlib.import_module(f"{PACKAGE}.data.contract")
CONTRACT = contract_module.load_contract(PROJECT / "contract.yaml")
MODEL = importlib.import_module(f"{PACKAGE}.core.modelfile").load_model(
    PROJECT / "models" / "model.skops"
)
FEATURES = CONTRACT.features
DTYPES = {n: contract_module.PANDAS_DTYPES[CONTRACT.columns[n].dtype] for n in FEATURES}
CLASSES = [str(c) for c in getattr(MODEL, "classes_", [])]


def predict(body: bytes) -> dict:
    records = json.loads(body)["records"]
    frame = pd.DataFrame.from_records(records, columns=FEATURES).astype(DTYPES)
    answer: dict = {"predictions": MODEL.predict(frame).tolist()}
    if CLASSES:
        answer["probabilities"] = [
            dict(zip(CLASSES, map(float, row), strict=True)) for row in MODEL.predict_proba(frame)
        ]
    return answer


async def predict_endpoint(request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(predict, await request.body()))


async def ready(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/predict", predict_endpoint, methods=["POST"]),
        Route("/readyz", ready),
    ]
)
