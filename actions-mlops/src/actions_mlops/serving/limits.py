"""What the HTTP server itself must bound, below the ASGI app (issue 31, item 1).

BentoML 1.4 runs each worker's uvicorn with only a keep-alive timeout (its `--timeout-keep-alive`,
5 s): uvicorn has no time limit on a request's headers (a client sending a header line every
10 s holds its connection forever), no cap on connections, and it reads up to 64 KiB of every
request's body before the app asks for it. An ASGI middleware cannot help: it runs once the
headers are complete. BentoML builds uvicorn's Config itself with no protocol option, so
`guard_server` (called by the service module, which the worker imports before it starts
uvicorn) makes uvicorn's "auto" protocol a subclass of its h11 protocol that adds:

- a connection cap: the worker holds at most `max_connections`; one more gets a 503 at once;
- a header deadline: a request's headers must arrive within `header_timeout_s` of the
  connection (or of the previous response on a kept-alive one), else a 408 and the connection
  closes;
- no read ahead: once a request's headers are in, its body stays in the client's socket until
  the app reads it (serving/service.py `BodyLimit` decides when: bodies wait for memory), and
  until then the connection reads 4 KiB at a time, so a waiting request holds at most that;
- the keep-alive timeout of params `serve.keep_alive_s`.

The body's own deadline and the memory of bodies in flight are the app's (BodyLimit).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn.protocols.http.auto
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol

# Bytes one read of a connection takes until the app reads the request's body: about its
# headers, so that a request waiting for memory holds no more of its body than this.
READ_SIZE = 4096


class ReadOnDemand(FlowControl):
    """uvicorn's flow control, reading in asyncio's full-size reads (256 KiB) only while the app
    reads a body: `small` goes back to READ_SIZE reads."""

    def resume_reading(self) -> None:
        with contextlib.suppress(AttributeError):
            del self._transport.max_size  # type: ignore[attr-defined]  # the class's again
        super().resume_reading()

    def small(self) -> None:
        if hasattr(self._transport, "max_size"):  # asyncio's selector transport
            self._transport.max_size = READ_SIZE


@dataclass(frozen=True)
class Limits:
    """The server's limits, from params `serve` (config.ServeParams)."""

    max_connections: int
    header_timeout_s: float
    keep_alive_s: float


def raw_answer(status: str, message: str) -> bytes:
    """A complete HTTP/1.1 answer that closes the connection, in the ErrorResponse shape (no
    request may have been parsed yet: h11 cannot send it)."""
    body = json.dumps({"error": message, "detail": []}).encode()
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\nconnection: close\r\n"
    return f"{head}content-length: {len(body)}\r\n\r\n".encode() + body


def guarded_protocol(limits: Limits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with the limits above."""
    busy = raw_answer("503 Service Unavailable", "too many connections: retry later")
    slow = raw_answer(
        "408 Request Timeout", f"request headers not received within {limits.header_timeout_s:g} s"
    )

    class GuardedH11Protocol(H11Protocol):
        """H11Protocol with a connection cap, a header deadline and no read ahead."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.timeout_keep_alive = int(limits.keep_alive_s)
            self.header_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                transport.write(busy)
                transport.close()
                return
            self.flow = ReadOnDemand(transport)
            self.flow.small()
            self.arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self.disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            super().data_received(data)
            self.after_events(cycle)

        def on_response_complete(self) -> None:
            cycle = self.cycle
            super().on_response_complete()
            if not self.transport.is_closing():
                self.arm()  # the next request's headers, on this kept-alive connection
                if isinstance(self.flow, ReadOnDemand):
                    self.flow.small()
                self.after_events(cycle)

        def after_events(self, before: Any) -> None:
            """Once a new request's headers are in: stop the header clock, and read its body
            only when the app asks for it (uvicorn's receive resumes reading)."""
            if self.cycle is not before and self.cycle is not None:
                self.disarm()
                if not self.cycle.response_complete:
                    self.flow.pause_reading()

        def arm(self) -> None:
            self.disarm()
            self.header_deadline = self.loop.call_later(limits.header_timeout_s, self.expire)

        def disarm(self) -> None:
            if self.header_deadline is not None:
                self.header_deadline.cancel()
                self.header_deadline = None

        def expire(self) -> None:
            self.header_deadline = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.write(slow)
                self.transport.close()

    return GuardedH11Protocol


def guard_server(limits: Limits) -> None:
    """Make uvicorn's "auto" HTTP protocol, which BentoML's worker uses, the guarded one."""
    uvicorn.protocols.http.auto.AutoHTTPProtocol = guarded_protocol(limits)
