"""(b0) The floor of an HTTP answer: the same Starlette + uvicorn stack as (b), with a handler
that reads the body and answers a constant JSON, no model. The issue's first goal compares the
served p50 with this p50 plus the bare estimator's call.

`uvicorn bench.apps.asgi_noop:app --host 127.0.0.1 --port P`
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def predict_endpoint(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"predictions": []})


async def ready(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/predict", predict_endpoint, methods=["POST"]),
        Route("/readyz", ready),
    ]
)
