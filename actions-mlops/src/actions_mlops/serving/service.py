"""Service: one registered model version behind an HTTP API (BentoML 1.4).

The request schema is generated at import from the data contract saved with the model: every
feature present and typed (no coercion: "1.5" is not a float), unknown fields rejected, NaN and
infinity rejected, `null` only where the contract allows missing values, and
between 1 and `serve.max_records` records. A bad request gets a 400 that names each problem.
A value outside the contract's range or allowed values is predicted and flagged in the answer's
`warnings`, one list per record (`flags.py`).

Each request's records go straight to the estimator's input array through the model's
preprocessing compiled at load (`fastpath.py`: the same numbers as the pipeline, checked by
`make package` on the whole test split); a pipeline the compiler does not know, or FAST_PATH=off,
preprocesses with the pipeline itself. The server log says which, once, at start.

Before any of that, ASGI middlewares: with the environment variable API_KEY set, every path
but the probes, /metrics and the API docs needs `Authorization: Bearer <API_KEY>` (401
otherwise); a body that is not JSON gets a 415; a body larger than `serve.max_body_bytes` gets
a 413 before it is read; a 400 names each problem on its own line (`problems.py`: the contract's
id and ignored columns by their role, "send null" for NaN). Every error answers in one shape,
`ErrorResponse`, as the OpenAPI document (/docs.json, rewritten by `openapi`) declares.

Around the model, the owner's hooks when params `serve` names them (`hooks.py`: preprocess the
records, postprocess the answer, functions of the project's package); an error in one is a 500
and one line in the log.

Every answered request is appended to the prediction log (`predictionlog.py`: folder
PREDICTION_LOG_DIR, default logs/predictions; PREDICTION_LOG=off turns it off; the contract's
`pii: true` columns masked) under a request id: the client's X-Request-ID header when it sends
one, else a new one, returned in the body and the X-Request-ID header so labels can be joined
later (`make monitor LABELS=...`).

Which model, limits and log: the bento arguments (config.ServingSettings: `model_tag`, params
`serve`, and the log's folder, size and number of files from params `monitor`), fixed by
`make package`; PREDICTION_LOG_DIR, set where the service runs, wins over the folder. Run from
source, the newest version of params `registry.model` in the BentoML store and params.yaml:
    bentoml serve actions_mlops.serving.service:ModelService
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import logging
import os
import re
import uuid
from pathlib import Path
from typing import Annotated, Any

import bentoml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)
from starlette.responses import HTMLResponse, JSONResponse

from actions_mlops.core.config import (
    CONTRACT_FILE,
    MODEL_FILE,
    ServingSettings,
    load_params,
)
from actions_mlops.data.contract import (
    FLOAT32_MAX,
    INT_MAX,
    Column,
    Contract,
    load_contract,
)
from actions_mlops.serving.flags import Flag, record_flags
from actions_mlops.serving.hooks import HookError, Hooks, records_of, run
from actions_mlops.serving.limits import Limits, guard_server
from actions_mlops.serving.predictionlog import PredictionLog
from actions_mlops.serving.problems import ClearErrors


def integral(value: Any) -> Any:
    """2.0 as 2: JSON Schema counts a number without a fraction as an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JSON_TYPES: dict[str, Any] = {
    "int": Annotated[int, Field(ge=-INT_MAX, le=INT_MAX), BeforeValidator(integral)],
    # Beyond float32's range no estimator can use a value (trees compute in float32).
    "float": Annotated[float, Field(allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)],
    "str": str,
    "bool": bool,
}
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
VALUE_BYTES = 256  # a feature value in a request, with its quotes, separators and spacing
OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/metrics", "/", "/docs.json"})
OPEN_PREFIXES = ("/static_content/",)  # the docs page's scripts and styles


def settings() -> ServingSettings:
    """The bento arguments when packaged, else the project's params.yaml (run from source)."""
    given = vars(bentoml.use_arguments())
    if given:
        return ServingSettings.model_validate(given)
    params = load_params()
    return ServingSettings(
        model_tag=f"{params.registry.model}:latest", serve=params.serve, monitor=params.monitor
    )


def prediction_log(settings: ServingSettings, masked: list[str]) -> PredictionLog | None:
    """The log the service appends to (PREDICTION_LOG_DIR overrides the folder), or None with
    PREDICTION_LOG=off."""
    if os.environ.get("PREDICTION_LOG") == "off":
        return None
    log = settings.monitor
    return PredictionLog(log.log_dir, log.max_bytes, log.keep, masked)


def accepts_missing(column: Column) -> bool:
    """Whether `null` is a valid value: unless the contract sets `max_null_fraction: 0`."""
    return column.max_null_fraction != 0


def record_model(contract: Contract) -> type[BaseModel]:
    """A strict pydantic model of one record: the contract's features, nothing else."""
    fields: dict[str, Any] = {}
    for index, name in enumerate(contract.features):
        column = contract.columns[name]
        kind = JSON_TYPES[column.dtype]
        annotation = kind | None if accepts_missing(column) else kind
        # Python names are positional; clients use the contract's names (aliases).
        fields[f"feature_{index}"] = (annotation, Field(alias=name, strict=True))
    return create_model("Record", __config__=ConfigDict(extra="forbid"), **fields)


def request_model(record: type[BaseModel], max_records: int) -> type[BaseModel]:
    """The request body: `{"records": [record, ...]}` with 1 to `max_records` records."""
    records = Field(min_length=1, max_length=max_records, description="records to predict")
    return create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        records=(list[record], records),  # type: ignore[valid-type]  # a model made at run time
    )


def body_limit(settings: ServingSettings, contract: Contract) -> int:
    """Largest request body in bytes: `max_body_bytes`, else VALUE_BYTES per feature name and
    value, times max_records."""
    if settings.serve.max_body_bytes is not None:
        return settings.serve.max_body_bytes
    record = sum(len(name.encode()) + VALUE_BYTES for name in contract.features)
    return settings.serve.max_records * record


def answer_of(value: Any) -> PredictResponse:
    """What postprocess returned, as the answer (ValueError unless it fits PredictResponse)."""
    try:
        return PredictResponse.model_validate(value)
    except ValidationError as error:  # a client's 400 to BentoML: the hook's fault here
        raise ValueError(f"returned no valid answer: {error.errors()[0]['msg']}") from None


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
        default=None,
        description="classification: probability of each class, per record; regression: null",
        json_schema_extra={"nullable": True},  # OpenAPI 3.0's null, which BentoML's schema drops
    )
    warnings: list[list[Flag]] = Field(
        description="per record: its values outside the contract's range or allowed values "
        "(the record is still predicted); an empty list when there are none",
    )


class Problem(BaseModel):
    """One problem of a request, as pydantic reports it."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="machine-readable kind, e.g. missing, extra_forbidden")
    loc: list[str | int] = Field(description="where: body, records, record index, field name")
    msg: str


class ErrorResponse(BaseModel):
    """The body of every error answer (400, 401, 408, 413, 415, 500, 503)."""

    error: str = Field(description="what went wrong, in one line")
    detail: list[Problem] = Field(default=[], description="each problem found in the request")


UNAUTHORIZED = Problem(
    type="unauthorized",
    loc=["header", "Authorization"],
    msg="missing or wrong API key: send the header Authorization: Bearer <API_KEY>",
)
NOT_JSON = Problem(
    type="unsupported_media_type",
    loc=["header", "Content-Type"],
    msg="Content-Type must be application/json",
)


def error_response(status: int, problem: Problem, headers: dict[str, str] | None = None):
    """A JSON error answer with one problem, in the `ErrorResponse` shape."""
    body = ErrorResponse(error=problem.msg, detail=[problem])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


class ApiKey:
    """ASGI middleware: with a key, every path but the probes, /metrics and the docs needs
    `Authorization: Bearer <key>` (compared in constant time), else a 401."""

    def __init__(self, app: Any, key: str | None) -> None:
        self.app, self.key = app, (key or "").encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.key and scope["type"] == "http" and not is_open(scope["path"]):
            scheme, _, token = dict(scope["headers"]).get(b"authorization", b"").partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.key):
                challenge = {"WWW-Authenticate": 'Bearer realm="predict"'}
                await error_response(401, UNAUTHORIZED, challenge)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def is_open(path: str) -> bool:
    """Whether `path` is served without the API key: probes, metrics and the API docs."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class JsonOnly:
    """ASGI middleware: a prediction request that is not JSON gets a 415 (BentoML would parse
    some, e.g. multipart without a boundary, into a 500)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/predict":
            header = dict(scope["headers"]).get(b"content-type", b"application/json")
            if header.split(b";")[0].strip().lower() != b"application/json":
                await error_response(415, NOT_JSON)(scope, receive, send)
                return
        await self.app(scope, receive, send)


SMALL_BODY = 64 * 1024  # a body this small is read at once: it never waits for memory
# Large bodies that may wait for memory at once; one more gets a 503 without waiting (each
# waiting request holds some 50 KB of server state, none of its body).
MAX_WAITING = 16


class ByteBudget:
    """Bytes of request bodies in memory at once: `take` waits until `size` more fit."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.used = capacity, 0
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def full(self, size: int) -> bool:
        """Whether `size` more bytes would have to wait behind MAX_WAITING others."""
        return self.used + size > self.capacity and len(self.waiters) >= MAX_WAITING

    async def take(self, size: int) -> None:
        while self.used and self.used + size > self.capacity:
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)
        self.used += size

    def give(self, size: int) -> None:
        self.used -= size
        while self.waiters:  # each waiter checks again whether it fits now
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)


class BodyLimit:
    """ASGI middleware: a request body beyond `max_bytes` gets a 413 naming the limit, decided
    on Content-Length before reading, else (chunked) by counting bytes as they arrive; the
    refused body is read and dropped (up to the deadline) so that a client still sending it
    gets the 413 rather than a reset. A body larger than SMALL_BODY waits, unread, until it
    fits in a budget of `max_bytes` of bodies in memory at once (503 when it does not by its
    deadline); every body must arrive within `timeout_s` of its headers (else 408). A body
    within the limits is handed on as received."""

    def __init__(self, app: Any, max_bytes: int, timeout_s: float = 20) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s
        self.budget = ByteBudget(max_bytes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            # A client that waits for "100 Continue" has sent nothing: nothing to drop.
            waiting = headers.get(b"expect", b"").lower() == b"100-continue"
            await self.refuse(scope, receive, send, deadline, reading=not waiting)
            return
        if declared is not None and declared.isdigit():
            size = int(declared)
        else:  # chunked: as large as allowed
            size = self.max_bytes if b"transfer-encoding" in headers else 0
        size = size if size > SMALL_BODY else 0
        if self.budget.full(size):
            await error_response(503, busy(0), CLOSE)(scope, receive, send)
            return
        try:
            async with asyncio.timeout_at(deadline):
                await self.budget.take(size)
        except TimeoutError:
            await error_response(503, busy(self.timeout_s), CLOSE)(scope, receive, send)
            return
        try:
            await self.read_and_serve(scope, receive, send, deadline)
        finally:
            self.budget.give(size)

    async def read_and_serve(
        self, scope: dict[str, Any], receive: Any, send: Any, deadline: float
    ) -> None:
        """Read the body by the deadline, then hand it on."""
        chunks, size, more = [], 0, True
        try:
            async with asyncio.timeout_at(deadline):
                while more:
                    message = await receive()
                    if message["type"] != "http.request":  # the client left: nothing to answer
                        return
                    chunks.append(message.get("body", b""))
                    size += len(chunks[-1])
                    more = message.get("more_body", False)
                    if size > self.max_bytes:
                        chunks.clear()
                        break
        except TimeoutError:
            await error_response(408, slow_body(self.timeout_s), CLOSE)(scope, receive, send)
            return
        if size > self.max_bytes:
            await self.refuse(scope, receive, send, deadline, reading=more)
            return
        body = b"".join(chunks)
        chunks.clear()
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def refuse(
        self, scope: dict[str, Any], receive: Any, send: Any, deadline: float, reading: bool = True
    ) -> None:
        """The 413 answer, once the rest of the body is read and dropped (by the deadline)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                while reading:
                    message = await receive()
                    reading = message["type"] == "http.request" and message.get("more_body")
        message = f"request body larger than {self.max_bytes} bytes (params serve.max_body_bytes)"
        fields = {"type": "body_too_large", "loc": ["body"], "msg": message}
        problem = Problem.model_validate(fields | {"limit": self.max_bytes})  # an extra field
        await error_response(413, problem, CLOSE)(scope, receive, send)


CLOSE = {"Connection": "close"}


def busy(seconds: float) -> Problem:
    waited = f" for {seconds:g} s" if seconds else ""
    message = f"too many large request bodies in memory{waited}: retry later"
    return Problem(type="server_busy", loc=["body"], msg=message)


def slow_body(seconds: float) -> Problem:
    message = f"request body not received within {seconds:g} s (params serve.body_timeout_s)"
    return Problem(type="body_timeout", loc=["body"], msg=message)


NULL = {"type": "null"}
ERRORS = {
    400: "Invalid request: `detail` lists each problem with its location",
    401: "Missing or wrong API key (only when the service runs with API_KEY)",
    408: "Request headers or body not received in time (params serve.*_timeout_s)",
    413: "Request body larger than the limit named in `error`",
    415: "Content-Type is not application/json",
    500: "Unexpected server error (see the server log)",
    503: "Too many connections, or large bodies in memory: retry later",
}


def nullable(node: Any) -> Any:
    """OpenAPI 3.0 has no `type: null`: pydantic's anyOf [schema, null] becomes the schema with
    `nullable: true`, the 3.0 form (the document declares openapi 3.0.2)."""
    if isinstance(node, list):
        return [nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: nullable(value) for key, value in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and NULL in options:
        rest = [option for option in options if option != NULL]
        del node["anyOf"]
        node |= (rest[0] if len(rest) == 1 else {"anyOf": rest}) | {"nullable": True}
    return node


def openapi(spec: dict[str, Any], key_required: bool) -> dict[str, Any]:
    """BentoML's OpenAPI document with the errors /predict actually answers, all in the
    `ErrorResponse` shape, nullable fields in OpenAPI 3.0's form, and the API key scheme when
    one is required."""
    spec = nullable(spec)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("InvalidArgument", "NotFound", "InternalServerError"):
        schemas.pop(name, None)
    error = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error.pop("$defs"))
    schemas["ErrorResponse"] = error
    reference = {"$ref": "#/components/schemas/ErrorResponse"}
    predict = spec["paths"]["/predict"]["post"]
    predict["requestBody"]["required"] = True  # no body is a 400 (`records` missing)
    responses = predict["responses"]
    for status in [s for s in responses if str(s) != "200"]:
        del responses[status]
    for status, description in ERRORS.items():
        if status != 401 or key_required:
            content = {"application/json": {"schema": reference}}
            responses[str(status)] = {"description": description, "content": content}
    if key_required:
        responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        spec["components"]["securitySchemes"] = {"apiKey": {"type": "http", "scheme": "bearer"}}
        predict["security"] = [{"apiKey": []}]
    return spec


# The API docs page: BentoML's, less its Google Tag Manager (a third party told of every visit,
# and a page that hangs offline): Swagger UI from the bento's own files, nothing else allowed.
DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Prediction service</title>
    <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css" />
    <link rel="stylesheet" type="text/css" href="./static_content/index.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="./static_content/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="./static_content/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"""
DOCS_POLICY = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
}


class OpenApiDocs:
    """ASGI middleware: /docs.json serves `openapi(...)` instead of BentoML's document, and /
    the docs page without a third party's script."""

    def __init__(self, app: Any, service: Any, key_required: bool) -> None:
        self.app, self.service, self.key_required = app, service, key_required

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/docs.json":
            spec = openapi(self.service.openapi_spec.asdict(), self.key_required)
            await JSONResponse(spec)(scope, receive, send)
            return
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "GET":
            await HTMLResponse(DOCS_PAGE, headers=DOCS_POLICY)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ClientErrorsQuietly(logging.Filter):
    """BentoML logs every 400 at ERROR with a traceback: one INFO line is enough for a
    client's mistake."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], ValidationError):
            count = record.exc_info[1].error_count()
            record.msg = f"Client error on %s [%s]: {count} problem(s), answered 400"
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
        elif record.exc_info and isinstance(record.exc_info[1], HookError):
            reason = str(record.exc_info[1]).replace("%", "%%")
            record.msg = f"Hook error on %s [%s]: {reason}, answered 500"
            record.exc_info, record.exc_text = None, None
        return True


SETTINGS = settings()
MODEL = bentoml.models.BentoModel(SETTINGS.model_tag)
STORED = MODEL.resolve()
CONTRACT = load_contract(Path(STORED.path_of(CONTRACT_FILE.name)))
Record = record_model(CONTRACT)
PredictRequest = request_model(Record, SETTINGS.serve.max_records)
API_KEY = os.environ.get("API_KEY") or None
LOG = logging.getLogger("bentoml.service")  # BentoML's handlers print its loggers
logging.getLogger("bentoml._internal.server.http_app").addFilter(ClientErrorsQuietly())


# The worker's uvicorn gets the connection cap, header deadline and no read ahead (limits.py).
LIMITS = SETTINGS.serve
guard_server(Limits(LIMITS.max_connections, LIMITS.header_timeout_s, LIMITS.keep_alive_s))


# BentoML's own deadline for an answer (504): the body's, then 30 s to predict.
@bentoml.service(name=STORED.tag.name, traffic={"timeout": SETTINGS.serve.body_timeout_s + 30})
class ModelService:
    """Predictions of one registered model version."""

    model_ref = MODEL

    def __init__(self) -> None:
        # Imported here, in the worker: scikit-learn, skops and pandas take seconds to import,
        # and the `bentoml serve` process that reads this module to start it needs none of them.
        from actions_mlops.core.modelfile import load_model
        from actions_mlops.serving.fastpath import preprocessor

        path = Path(self.model_ref.path_of(MODEL_FILE.name))
        self.model = load_model(path, SETTINGS.package)
        self.hooks = Hooks.load(SETTINGS.serve, SETTINGS.package)
        LOG.info("Hooks: %s", self.hooks.describe())
        self.labels = self.model_ref.info.labels
        self.classes = [str(c) for c in getattr(self.model, "classes_", [])]
        self.preprocess, fallback = preprocessor(self.model, CONTRACT)
        if fallback is None:
            LOG.info("Preprocessing: compiled (serving/fastpath.py)")
        else:
            LOG.warning("Preprocessing: the pipeline's, per request (%s)", fallback)
        masked = [name for name in CONTRACT.features if CONTRACT.columns[name].pii]
        self.log = prediction_log(SETTINGS, masked)

    @bentoml.api(route="/predict", input_spec=PredictRequest)
    def predict(self, records: list[BaseModel], ctx: bentoml.Context) -> PredictResponse:
        """Predict every record; classification adds each class's probability."""
        from actions_mlops.serving import fastpath  # loaded by __init__

        inputs = [record.model_dump(by_alias=True) for record in records]
        if self.hooks.preprocess is not None:
            inputs = run("preprocess", self.hooks.preprocess, inputs, records_of)
        encoded = fastpath.estimator_input(self.preprocess(inputs))
        classification = self.labels["task"] == "classification"
        predictions, shares = fastpath.estimator_outputs(self.model[-1], encoded, classification)
        probabilities = None
        if shares is not None:
            probabilities = [
                dict(zip(self.classes, map(float, row), strict=True)) for row in shares
            ]
        response = PredictResponse(
            model=self.model_ref.tag.name,
            model_version=self.labels["version"],
            request_id=request_id(ctx.request.headers.get("x-request-id")),
            predictions=predictions.tolist(),
            probabilities=probabilities,
            warnings=[record_flags(values, CONTRACT) for values in inputs],
        )
        ctx.response.headers["X-Request-ID"] = response.request_id
        if self.log is not None:  # never fails the request: see PredictionLog.write
            self.log.write(
                response.request_id,
                response.model_version,
                inputs,
                response.predictions,
                response.probabilities,
                [[flag.model_dump() for flag in flags] for flags in response.warnings],
            )
        if self.hooks.postprocess is not None:
            answer = response.model_dump()
            response = run("postprocess", self.hooks.postprocess, answer, answer_of)
        return response


# The first added is the outermost: the key before the media type before the body's size.
# (@bentoml.service made ModelService a bentoml Service; mypy keeps a decorated class's own
# type, python/mypy#3135, hence the ignores.)
ModelService.add_asgi_middleware(ApiKey, key=API_KEY)  # type: ignore[attr-defined]
ModelService.add_asgi_middleware(JsonOnly)  # type: ignore[attr-defined]
ModelService.add_asgi_middleware(  # type: ignore[attr-defined]
    BodyLimit, max_bytes=body_limit(SETTINGS, CONTRACT), timeout_s=SETTINGS.serve.body_timeout_s
)
ModelService.add_asgi_middleware(OpenApiDocs, service=ModelService, key_required=bool(API_KEY))  # type: ignore[attr-defined]
ModelService.add_asgi_middleware(ClearErrors, contract=CONTRACT)  # type: ignore[attr-defined]
