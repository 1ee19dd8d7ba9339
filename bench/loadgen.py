"""A small closed-loop HTTP/1.1 load generator (asyncio, keep-alive, loopback only), run in its
own process so that it never shares an interpreter with the server it measures.

`python -m bench.loadgen --port P --path /predict --body FILE --concurrency C --requests N
--seconds T` prints one JSON line: requests, errors, status counts, latency percentiles (ms) and
throughput. Bounded by both N requests and T seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

HOST = "127.0.0.1"


def request_bytes(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server keeps the connection) of one response."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length, chunked, keep = 0, False, True
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            keep = False
    if not chunked:
        return status, await reader.readexactly(length), keep
    body = b""
    while (size := int((await reader.readline()).split(b";")[0], 16)) > 0:
        body += await reader.readexactly(size)
        await reader.readline()
    await reader.readline()
    return status, body, keep


async def client(port, payload, deadline, budget, latencies, statuses):
    connection = None
    while budget[0] > 0 and time.perf_counter() < deadline:
        budget[0] -= 1
        if connection is None:
            connection = await asyncio.open_connection(HOST, port)
        reader, writer = connection
        start = time.perf_counter()
        try:
            writer.write(payload)
            await writer.drain()
            status, _, keep = await read_response(reader)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            statuses["connection error"] += 1
            writer.close()
            connection = None
            continue
        latencies.append(time.perf_counter() - start)
        statuses[str(status)] += 1
        if not keep:
            writer.close()
            connection = None
    if connection is not None:
        connection[1].close()


async def load(port, path, body, concurrency, requests, seconds) -> dict:
    payload = request_bytes(path, body)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    budget = [requests]
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(client(port, payload, deadline, budget, latencies, statuses) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - start
    ok = statuses.get("200", 0)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "ok": ok,
        "errors": sum(statuses.values()) - ok,
        "statuses": dict(statuses),
        "seconds": round(elapsed, 3),
        "throughput_rps": round(ok / elapsed, 1),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/predict")
    parser.add_argument("--body", type=Path, required=True, help="JSON request body file")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000, help="at most this many")
    parser.add_argument("--seconds", type=float, default=5.0, help="at most this long")
    args = parser.parse_args(argv)
    result = asyncio.run(
        load(
            args.port,
            args.path,
            args.body.read_bytes(),
            args.concurrency,
            args.requests,
            args.seconds,
        )
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
