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

Every answered request is appended to the prediction log (`predictionlog.py`: folder
PREDICTION_LOG_DIR, default logs/predictions; PREDICTION_LOG=off turns it off; the contract's
`pii: true` columns masked) under a request id: the client's X-Request-ID header when it sends
one, else a new one, returned in the body and the X-Request-ID header so labels can be joined
later (`make monitor LABELS=...`).

Which model, limits and log: the bento arguments (config.serving_args: `model_tag`, params
`serve`, and the log's folder, size and number of files from params `monitor`), fixed by
`make package`; PREDICTION_LOG_DIR, set where the service runs, wins over the folder. Run from
source, the newest version of params `registry.model` in the BentoML store and params.yaml:
    bentoml serve actions_mlops.serving.service:ModelService
"""

from __future__ import annotations

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
from starlette.responses import JSONResponse

from actions_mlops.core.config import (
    CONTRACT_FILE,
    MODEL_FILE,
    load_params,
    serving_args,
)
from actions_mlops.data.contract import (
    FLOAT32_MAX,
    Column,
    Contract,
    load_contract,
)
from actions_mlops.serving.flags import Flag, record_flags
from actions_mlops.serving.predictionlog import PredictionLog
from actions_mlops.serving.problems import ClearErrors


def integral(value: Any) -> Any:
    """2.0 as 2: JSON Schema counts a number without a fraction as an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JSON_TYPES: dict[str, Any] = {
    # Beyond 2**53 an int has no exact float64 (the model's dtype).
    "int": Annotated[int, Field(ge=-(2**53), le=2**53), BeforeValidator(integral)],
    # Beyond float32's range no estimator can use a value (trees compute in float32).
    "float": Annotated[float, Field(allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)],
    "str": str,
    "bool": bool,
}
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
VALUE_BYTES = 256  # a feature value in a request, with its quotes, separators and spacing
OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/metrics", "/", "/docs.json"})
OPEN_PREFIXES = ("/static_content/",)  # the docs page's scripts and styles


class Settings(BaseModel):
    """What one bento serves, and where it logs (config.serving_args writes these)."""

    model_config = ConfigDict(extra="forbid")
    model_tag: str
    max_records: int = Field(gt=0)
    max_body_bytes: int | None = Field(default=None, gt=0)
    log_dir: Path
    log_max_bytes: int = Field(gt=0)
    log_keep: int = Field(gt=0)


def settings() -> Settings:
    """The bento arguments when packaged, else the project's params.yaml (run from source)."""
    given = vars(bentoml.use_arguments())
    if given:
        return Settings(**given)
    params = load_params()
    return Settings(**serving_args(params, f"{params.registry.model}:latest"))


def prediction_log(settings: Settings, masked: list[str]) -> PredictionLog | None:
    """The log the service appends to (PREDICTION_LOG_DIR overrides the folder), or None with
    PREDICTION_LOG=off."""
    if os.environ.get("PREDICTION_LOG") == "off":
        return None
    return PredictionLog(settings.log_dir, settings.log_max_bytes, settings.log_keep, masked)


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


def body_limit(settings: Settings, contract: Contract) -> int:
    """Largest request body in bytes: `max_body_bytes`, else VALUE_BYTES per feature name and
    value, times max_records."""
    if settings.max_body_bytes is not None:
        return settings.max_body_bytes
    record = sum(len(name.encode()) + VALUE_BYTES for name in contract.features)
    return settings.max_records * record


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
    """The body of every error answer (400, 401, 413, 415, 500)."""

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


class BodyLimit:
    """ASGI middleware: a request body beyond `max_bytes` gets a 413 naming the limit, decided
    on Content-Length before reading, else (chunked) by counting bytes as they arrive; a body
    within the limit is handed on as received."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self.refuse(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nothing to answer
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await self.refuse(scope, receive, send)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def refuse(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The 413 answer."""
        message = f"request body larger than {self.max_bytes} bytes (params serve.max_body_bytes)"
        fields = {"type": "body_too_large", "loc": ["body"], "msg": message}
        problem = Problem.model_validate(fields | {"limit": self.max_bytes})  # an extra field
        await error_response(413, problem, {"Connection": "close"})(scope, receive, send)


NULL = {"type": "null"}
ERRORS = {
    400: "Invalid request: `detail` lists each problem with its location",
    401: "Missing or wrong API key (only when the service runs with API_KEY)",
    413: "Request body larger than the limit named in `error`",
    415: "Content-Type is not application/json",
    500: "Unexpected server error (see the server log)",
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


class OpenApiDocs:
    """ASGI middleware: /docs.json serves `openapi(...)` instead of BentoML's document."""

    def __init__(self, app: Any, service: Any, key_required: bool) -> None:
        self.app, self.service, self.key_required = app, service, key_required

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/docs.json":
            spec = openapi(self.service.openapi_spec.asdict(), self.key_required)
            await JSONResponse(spec)(scope, receive, send)
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
        return True


SETTINGS = settings()
MODEL = bentoml.models.BentoModel(SETTINGS.model_tag)
STORED = MODEL.resolve()
CONTRACT = load_contract(Path(STORED.path_of(CONTRACT_FILE.name)))
Record = record_model(CONTRACT)
PredictRequest = request_model(Record, SETTINGS.max_records)
API_KEY = os.environ.get("API_KEY") or None
LOG = logging.getLogger("bentoml.service")  # BentoML's handlers print its loggers
logging.getLogger("bentoml._internal.server.http_app").addFilter(ClientErrorsQuietly())


@bentoml.service(name=STORED.tag.name, traffic={"timeout": 30})
class ModelService:
    """Predictions of one registered model version."""

    model_ref = MODEL

    def __init__(self) -> None:
        # Imported here, in the worker: scikit-learn, skops and pandas take seconds to import,
        # and the `bentoml serve` process that reads this module to start it needs none of them.
        from actions_mlops.core.modelfile import load_model
        from actions_mlops.serving.fastpath import preprocessor

        self.model = load_model(Path(self.model_ref.path_of(MODEL_FILE.name)))
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
        return response


# The first added is the outermost: the key before the media type before the body's size.
# (@bentoml.service made ModelService a bentoml Service; mypy keeps a decorated class's own
# type, python/mypy#3135, hence the ignores.)
ModelService.add_asgi_middleware(ApiKey, key=API_KEY)  # type: ignore[attr-defined]
ModelService.add_asgi_middleware(JsonOnly)  # type: ignore[attr-defined]
ModelService.add_asgi_middleware(BodyLimit, max_bytes=body_limit(SETTINGS, CONTRACT))  # type: ignore[attr-defined]
ModelService.add_asgi_middleware(OpenApiDocs, service=ModelService, key_required=bool(API_KEY))  # type: ignore[attr-defined]
ModelService.add_asgi_middleware(ClearErrors, contract=CONTRACT)  # type: ignore[attr-defined]
