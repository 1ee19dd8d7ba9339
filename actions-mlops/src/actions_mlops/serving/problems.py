"""A 400's body in words a client can act on: one line per problem, the fields by their names.

BentoML answers a request its schema refuses with `{"error": "4 validation error for
PredictRequestIODescriptor", "detail": [pydantic's errors]}`. `ClearErrors` rewrites that body:
`error` says how many problems and lists each on its own line (`records[0].colour: expected
text; send null for a missing value, not NaN`), and each `detail` entry keeps its machine-readable
`type` and `loc` with that line as `msg`. Fields the contract keeps out of the model (its id and
ignored columns) are named as such: a client that posts a whole row of the training table learns
which columns to leave out. NaN is not JSON: a client that sends it for a missing value is told
to send null.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from actions_mlops.data.contract import Contract

MISSING_IS_NULL = "send null for a missing value, not NaN"


def where(loc: list[Any]) -> str:
    """`["records", 0, "colour"]` as `records[0].colour`."""
    text = ""
    for part in loc:
        if part == "body":
            continue
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "body"


def advice(problem: dict[str, Any], contract: Contract) -> str:
    """What to send instead, for one of pydantic's problems."""
    kind, loc = problem.get("type", ""), problem.get("loc") or []
    name = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        column = contract.columns.get(name)
        if column is not None and column.role != "feature":
            return f"the contract's {column.role} column, not a feature of the model: leave it out"
        return "not a feature of the model: leave it out (GET /docs.json lists the features)"
    if kind == "missing" and name != "records":
        return "missing: every feature is required, null where the value is unknown"
    if kind == "string_type":
        return f"expected text; {MISSING_IS_NULL}"
    if kind in ("float_type", "finite_number", "float_parsing"):
        return f"expected a finite number (a JSON number, not text); {MISSING_IS_NULL}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return "expected a whole number (a JSON number, not text)"
    if kind == "bool_type":
        return "expected true or false"
    if kind in ("too_short", "too_long") and name == "records":
        return str(problem.get("msg", "")).replace("List", "records")
    return str(problem.get("msg", kind))


def clear(body: dict[str, Any], contract: Contract) -> dict[str, Any]:
    """BentoML's 400 body rewritten: `error` one line per problem, each `msg` that line."""
    detail = body.get("detail")
    if not isinstance(detail, list) or not detail:
        return body
    lines, problems = [], []
    for problem in detail:
        if not isinstance(problem, dict):
            return body
        line = f"{where(problem.get('loc') or [])}: {advice(problem, contract)}"
        lines.append(line)
        problems.append({**problem, "msg": line})
    count = f"{len(lines)} problem{'s' if len(lines) > 1 else ''}"
    return {"error": f"invalid request, {count}:\n" + "\n".join(lines), "detail": problems}


class ClearErrors:
    """ASGI middleware: the 400 answers of /predict with `clear`'s body."""

    def __init__(self, app: Any, contract: Contract) -> None:
        self.app, self.contract = app, contract

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/predict":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def rewrite(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 400:
                start.update(message)  # held until the body is complete
                return
            if not start or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            with contextlib.suppress(ValueError, TypeError, AttributeError):  # else as it was
                body = json.dumps(clear(json.loads(body), self.contract)).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)
