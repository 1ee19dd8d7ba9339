"""Held bodies and slow headers against a baked project's service as `bentoml serve` runs it, on
127.0.0.1, every loop bounded (issue 31, item 1): 100 connections that each declare a body just
under the limit and withhold its last KiB raise the worker's memory by at most 1.5 x the body
limit in total (bodies wait unread for memory), and are all answered and closed by the body
deadline; 100 connections sending a header line a second are closed by the header deadline;
normal requests are answered all along (their p50/p99 printed)."""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import requests
import yaml
from conftest import bake, run
from test_serving_limits import STORE, Server, peak_rss_while

pytestmark = pytest.mark.slow
LIMIT = 8_000_000  # serve.max_body_bytes: the bodies of 8 MB are under it
HEADER_S, BODY_S = 4, 10  # serve.header_timeout_s, serve.body_timeout_s (shortened to test)
CONNECTIONS = 100


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("load")
    project = bake(root, task="classification", dataset="csv", init_git="no")
    params = yaml.safe_load((project / "params.yaml").read_text())
    serve = {"max_body_bytes": LIMIT, "header_timeout_s": HEADER_S, "body_timeout_s": BODY_S}
    params["serve"] |= serve
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
        "PYTHONPATH": str(project / "src"),
        "PREDICTION_LOG": "off",
    }
    run([sys.executable, "-c", STORE.format(package="actions_mlops")], project, env=env)
    server = Server(project, env)
    yield project, server
    server.stop()


def normal_body(project: Path) -> bytes:
    """One record of the project's own data, as a client sends it."""
    contract = yaml.safe_load((project / "contract.yaml").read_text())["columns"]
    features = [n for n, c in contract.items() if c.get("role", "feature") == "feature"]
    row = pd.read_csv(project / "data" / "raw" / "dataset.csv").head(1)[features]
    record = json.loads(row.to_json(orient="records"))[0]
    for name, value in record.items():
        if contract[name]["dtype"] == "int" and value is not None:
            record[name] = int(value)
    return json.dumps({"records": [record]}).encode()


class Traffic(threading.Thread):
    """Normal requests one after another until stopped: each status and latency."""

    def __init__(self, url: str, body: bytes) -> None:
        super().__init__()
        self.url, self.body, self.stop = url, body, threading.Event()
        self.results: list[tuple[int, float]] = []

    def run(self) -> None:
        headers = {"Content-Type": "application/json"}
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                answer = requests.post(self.url, data=self.body, headers=headers, timeout=30)
                status = answer.status_code
            except requests.RequestException:
                status = 0
            self.results.append((status, time.monotonic() - started))
            time.sleep(0.05)

    def summary(self) -> str:
        times = sorted(t * 1000 for _, t in self.results)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        p50 = statistics.median(times)
        return f"{len(times)} normal requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms"


def held_body(port: int, closed: list[float], answers: list[bytes], start: float) -> None:
    """Declare a body just under the limit, send all but its last KiB, and hold."""
    size = LIMIT - 1000
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        head = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        sock.sendall(f"{head}Content-Length: {size}\r\n\r\n".encode())
        try:
            sock.sendall(b" " * (size - 1024))
            answers.append(sock.recv(200))
        except OSError:  # the server answered and closed while we were still sending
            answers.append(b"")
        closed.append(time.monotonic() - start)


def slow_headers(port: int, closed: list[float], answers: list[bytes], start: float) -> None:
    """A request line, then one header line a second, never the end of the headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        try:
            sock.sendall(b"POST /predict HTTP/1.1\r\n")
            for line in range(60):  # bounded: a minute
                sock.settimeout(1)
                try:
                    answer = sock.recv(200)
                except TimeoutError:
                    sock.sendall(f"X-Line-{line}: {line}\r\n".encode())
                    continue
                answers.append(answer)
                break
        except OSError:
            answers.append(b"")
        closed.append(time.monotonic() - start)


def attack(port: int, kind) -> tuple[list[float], list[bytes]]:
    closed: list[float] = []
    answers: list[bytes] = []
    start = time.monotonic()
    threads = [
        threading.Thread(target=kind, args=(port, closed, answers, start))
        for _ in range(CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return closed, answers


def test_held_bodies_wait_unread_and_are_closed_by_the_deadline(served):
    project, server = served
    port = int(server.url.rsplit(":", 1)[1])
    traffic = Traffic(f"{server.url}/predict", normal_body(project))
    worker = server.worker()
    requests.post(f"{server.url}/predict", data=traffic.body, timeout=30).raise_for_status()
    before = worker.memory_info().rss
    traffic.start()
    try:
        peak, (closed, answers) = peak_rss_while(worker, lambda: attack(port, held_body))
    finally:
        traffic.stop.set()
        traffic.join()
    grown = peak - before
    print(
        f"held bodies: worker RSS {before / 2**20:.0f} MiB, peak +{grown / 2**20:.1f} MiB "
        f"(bound {1.5 * LIMIT / 2**20:.1f}); all closed by {max(closed):.1f} s "
        f"(deadline {BODY_S} s); {traffic.summary()}"
    )
    assert len(closed) == CONNECTIONS
    assert grown <= 1.5 * LIMIT
    assert max(closed) <= BODY_S + 5
    statuses = {answer.split(b" ")[1] for answer in answers if answer.startswith(b"HTTP/1.1")}
    assert statuses <= {b"408", b"503"}, answers[:3]
    assert traffic.results and all(status == 200 for status, _ in traffic.results)
    assert worker.is_running() and server.process.poll() is None


def test_slow_headers_are_closed_by_the_header_deadline(served):
    project, server = served
    port = int(server.url.rsplit(":", 1)[1])
    traffic = Traffic(f"{server.url}/predict", normal_body(project))
    traffic.start()
    try:
        closed, answers = attack(port, slow_headers)
    finally:
        traffic.stop.set()
        traffic.join()
    print(
        f"slow headers: {CONNECTIONS} closed between {min(closed):.1f} and {max(closed):.1f} s "
        f"(deadline {HEADER_S} s); {traffic.summary()}"
    )
    assert len(closed) == CONNECTIONS and max(closed) <= HEADER_S + 2
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers), answers[:3]
    assert traffic.results and all(status == 200 for status, _ in traffic.results)


def test_a_body_over_the_limit_sent_in_full_gets_the_413(served):
    """Python's http.client sends the whole body before it reads: the server reads and drops
    the rest of a refused body (by the deadline), so the client gets the 413, not a reset."""
    _, server = served
    connection = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
    body = b'{"records": [' + b" " * (LIMIT + 1_000_000) + b"]}"
    try:
        connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        assert answer.status == 413, answer.read()[:300]
        assert f"larger than {LIMIT} bytes" in json.loads(answer.read())["error"]
    finally:
        connection.close()


def test_the_docs_page_loads_nothing_from_a_third_party(served):
    _, server = served
    page = requests.get(f"{server.url}/", timeout=10)
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "googletagmanager" not in page.text and "https://" not in page.text, page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
