"""Serving: one trained model answered by (a) a raw in-process call, (b) a minimal Starlette +
uvicorn app, (c) the project's BentoML service (`<package>.serving.service:ModelService`,
served from source with the model saved by the project's own `package.save_model`), and (c)
again with adaptive batching (bench/apps/batched_service.py). One worker each.

The load generator (bench/loadgen.py) runs in its own process on 127.0.0.1: p50/p99 at
concurrency 1, throughput at 8 and 32, with 1-record and 100-record requests, each bounded in
requests and seconds. Memory: resident set of the server's processes once warmed up and loaded.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import yaml

from bench.common import (
    TEMPLATE,
    bake,
    git_identity,
    measure,
    ratio,
    require,
    table,
    target,
    targets_table,
    write_result,
)

NAME = "serving"
BATCHES = (1, 100)
CONCURRENCY = (1, 8, 32)
SECONDS, QUICK_SECONDS = 3.0, 1.0
# Served model: fast, so that the numbers are about the serving stack rather than about 200
# trees (the project's default RandomForest is timed in-process for context).
FAST_MODEL = {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 1000}}
MAX_REQUESTS = {1: 400, 8: 6000, 32: 6000}
READY_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def json_value(value: Any, dtype: str) -> Any:
    """A cell as the service's strict schema wants it (missing -> null)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if dtype == "int":
        return int(value)
    if dtype == "float":
        return float(value)
    if dtype == "bool":
        return str(value).lower() in ("true", "1", "yes")
    return str(value)


def write_bodies(project: Path, folder: Path) -> dict[int, Path]:
    """Request bodies of 1 and 100 records from the test split."""
    contract = yaml.safe_load((project / "contract.yaml").read_text())
    features = [n for n, c in contract["columns"].items() if c.get("role", "feature") == "feature"]
    test = pd.read_parquet(project / "data" / "split" / "test.parquet")
    rows = pd.concat([test] * math.ceil(max(BATCHES) / len(test)), ignore_index=True)
    bodies = {}
    for size in BATCHES:
        records = [
            {n: json_value(row[n], contract["columns"][n]["dtype"]) for n in features}
            for _, row in rows.head(size).iterrows()
        ]
        bodies[size] = folder / f"body-{size}.json"
        bodies[size].write_text(json.dumps({"records": records}))
    return bodies


class Server:
    """A server process group started for one variant, stopped by its process group id."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("a") as out:
            self.process = subprocess.Popen(
                [*command, "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = time.perf_counter()

    def wait_ready(self) -> float:
        deadline = self.started + READY_TIMEOUT
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2):
                    return round(time.perf_counter() - self.started, 2)
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"server not ready; end of {self.log}:\n{self.log.read_text()[-3000:]}")

    def memory(self) -> dict[str, Any]:
        """RSS of every process of the server; the largest one is the worker serving requests."""
        root = psutil.Process(self.process.pid)
        processes = [root, *root.children(recursive=True)]
        rss = sorted((p.memory_info().rss / 1024**2 for p in processes), reverse=True)
        return {
            "processes": len(rss),
            "largest_process_mb": round(rss[0], 1),
            "total_mb": round(sum(rss), 1),
        }

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


def drive(port: int, body: Path, concurrency: int, seconds: float) -> dict[str, Any]:
    """One bounded load run from a separate process."""
    command = [sys.executable, "-m", "bench.loadgen", "--port", str(port), "--body", str(body)]
    command += ["--concurrency", str(concurrency), "--requests", str(MAX_REQUESTS[concurrency])]
    command += ["--seconds", str(seconds)]
    result = subprocess.run(
        command, cwd=TEMPLATE, capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_server(server: Server, bodies: dict[int, Path], seconds: float) -> dict[str, Any]:
    ready_s = server.wait_ready()
    drive(server.port, bodies[1], 1, 1.0)  # warm-up: first requests load lazily
    idle = server.memory()
    runs = {}
    for size, body in bodies.items():
        drive(server.port, body, 1, 0.5)
        for concurrency in CONCURRENCY:
            runs[f"{size}x{concurrency}"] = drive(server.port, body, concurrency, seconds)
    return {"ready_s": ready_s, "memory_idle": idle, "memory_loaded": server.memory(), "runs": runs}


def project_for(context: dict[str, Any], work: Path) -> tuple[Path, Path]:
    """The trained project of `first_metrics` with its own environment, or a new bake run with
    this environment."""
    if context.get("project") and (context["project"] / ".venv").exists():
        return context["project"], context["project"] / ".venv" / "bin" / "python"
    project = bake(work, init_git="yes")
    git_identity(project)
    log = work / "repro.log"
    venv = context["venv"]
    require(measure(["make", "repro", f"VENV={venv}"], project, log, context["env"]()), log)
    return project, venv / "bin" / "python"


def run(context: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    seconds = QUICK_SECONDS if context.get("quick") else SECONDS
    work = Path(tempfile.mkdtemp(prefix="bench-serving-", dir=context.get("tmp")))
    project, python = project_for(context, work)
    package = next(p.name for p in (project / "src").iterdir() if (p / "__init__.py").exists())
    log = work / "serving.log"
    env = context["env"](
        BENTOML_HOME=str(work / "bentoml"),
        BENCH_PACKAGE=package,
        BENCH_PROJECT=str(project),
        PYTHONPATH=os.pathsep.join([str(TEMPLATE), str(project / "src")]),
    )
    env["PATH"] = os.pathsep.join([str(python.parent), env["PATH"]])
    bodies = write_bodies(project, work)
    notes = []

    def raw_predict() -> dict[int, dict[str, Any]]:
        output = subprocess.run(
            [str(python), "-m", "bench.apps.raw_predict", *map(str, bodies.values())],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {r["records"]: r for r in map(json.loads, output.strip().splitlines())}

    params = yaml.safe_load((project / "params.yaml").read_text())
    default_model = params["model"]
    raw_default = raw_predict()
    params["model"] = FAST_MODEL
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    venv = f"VENV={python.parent.parent}"
    require(measure(["make", "train", venv], project, log, env), log)
    estimator = FAST_MODEL["estimator"].rpartition(".")[2]
    raw = raw_predict()

    variants: dict[str, list[str]] = {
        "(b) starlette+uvicorn": [
            str(python),
            *("-m", "uvicorn", "bench.apps.asgi_baseline:app", "--workers", "1"),
            *("--log-level", "warning", "--no-access-log"),
        ],
    }
    src = project / "src" / package
    if (
        not (src / "serving" / "service.py").exists()
        or not (src / "release" / "package.py").exists()
    ):
        notes.append(f"(c) skipped: {src}/service.py or package.py is missing")
    else:
        saver = (
            f"from {package}.core.config import load_params;"
            f" from {package}.release.package import save_model;"
            " print(save_model(load_params(), 'v0.0.1', 'bench').tag)"
        )
        require(measure([str(python), "-c", saver], project, log, env), log)
        bentoml = [str(python), "-m", "bentoml", "serve"]
        variants["(c) bentoml"] = [*bentoml, f"{package}.serving.service:ModelService"]
        variants["(c) bentoml, no prediction log"] = variants["(c) bentoml"]
        variants["(c) bentoml, batching"] = [*bentoml, "bench.apps.batched_service:BatchedService"]

    # The project's service logs every prediction (predictionlog.py); one variant turns it off.
    env["PREDICTION_LOG_DIR"] = str(work / "predictions")
    switches = {"(c) bentoml, no prediction log": {"PREDICTION_LOG": "off"}}
    measured = {}
    for name, command in variants.items():
        server = Server(command, project, env | switches.get(name, {}), log)
        try:
            measured[name] = measure_server(server, bodies, seconds)
        except (RuntimeError, subprocess.SubprocessError) as error:
            notes.append(f"{name} failed: {str(error)[:2000]}")
            print(f"serving: {name} failed: {error}", file=sys.stderr, flush=True)
        finally:
            server.stop()
        print(f"serving: {name} measured", flush=True)

    tables = []
    rows = []
    for size in BATCHES:
        rows.append(["(a) raw predict, in-process", size, raw[size]["p50_ms"], raw[size]["p99_ms"]])
        for name, result in measured.items():
            runs = [result["runs"][f"{size}x{c}"] for c in CONCURRENCY]
            errors = sum(r["errors"] for r in runs)
            rows.append(
                [
                    name,
                    size,
                    runs[0]["p50_ms"],
                    runs[0]["p99_ms"],
                    runs[1]["throughput_rps"],
                    runs[2]["throughput_rps"],
                    runs[2]["p99_ms"],
                    errors,
                ]
            )
    tables.append(
        table(
            f"serving one {estimator} ({package}; one worker; load generator in another process)",
            [
                "variant",
                "records",
                "p50 ms c=1",
                "p99 ms c=1",
                "req/s c=8",
                "req/s c=32",
                "p99 ms c=32",
                "errors",
            ],
            [[*r, None, None, None, None][:8] for r in rows],
        )
    )
    default_name = default_model["estimator"].rpartition(".")[2]
    tables.append(
        table(
            f"context: the project's default model ({default_name}) called in-process",
            ["model", "records", "p50 ms", "p99 ms", f"x {estimator} p50"],
            [
                [
                    default_name,
                    size,
                    r["p50_ms"],
                    r["p99_ms"],
                    ratio(r["p50_ms"], raw[size]["p50_ms"]),
                ]
                for size, r in raw_default.items()
            ],
        )
    )
    base = measured.get("(b) starlette+uvicorn")
    ratio_rows = []
    for name in ("(c) bentoml", "(c) bentoml, batching"):
        if base is None or name not in measured:
            continue
        for size in BATCHES:
            one = [measured[name]["runs"][f"{size}x{c}"] for c in CONCURRENCY]
            ref = [base["runs"][f"{size}x{c}"] for c in CONCURRENCY]
            ratio_rows.append(
                [
                    f"{name} / (b)",
                    size,
                    ratio(one[0]["p50_ms"], ref[0]["p50_ms"]),
                    ratio(one[0]["p99_ms"], ref[0]["p99_ms"]),
                    ratio(one[1]["throughput_rps"], ref[1]["throughput_rps"]),
                    ratio(one[2]["throughput_rps"], ref[2]["throughput_rps"]),
                ]
            )
    if ratio_rows:
        tables.append(
            table(
                "ratios to the Starlette baseline (lower latency ratio and higher throughput "
                "ratio are better)",
                ["variant", "records", "p50 c=1", "p99 c=1", "req/s c=8", "req/s c=32"],
                ratio_rows,
            )
        )
    tables.append(
        table(
            "server memory (resident set; one worker; after the load runs)",
            ["variant", "ready s", "processes", "worker MB", "all processes MB"],
            [
                [
                    name,
                    r["ready_s"],
                    r["memory_loaded"]["processes"],
                    r["memory_loaded"]["largest_process_mb"],
                    r["memory_loaded"]["total_mb"],
                ]
                for name, r in measured.items()
            ],
        )
    )

    def runs_of(name: str, key: str) -> dict | None:
        return measured[name]["runs"][key] if name in measured else None

    c_one, b_one = runs_of("(c) bentoml", "1x1"), runs_of("(b) starlette+uvicorn", "1x1")
    batched = runs_of("(c) bentoml, batching", "1x32")
    b_32 = runs_of("(b) starlette+uvicorn", "1x32")
    targets = [
        target(
            "served p50 / baseline p50 (1 record, c=1)",
            ratio(c_one and c_one["p50_ms"], b_one and b_one["p50_ms"]),
            1.5,
        ),
        target(
            "batching req/s / baseline req/s (1 record, c=32)",
            ratio(batched and batched["throughput_rps"], b_32 and b_32["throughput_rps"]),
            1.0,
            higher_is_better=True,
        ),
    ]
    logged, unlogged = measured.get("(c) bentoml"), measured.get("(c) bentoml, no prediction log")
    if logged and unlogged:
        log_rows = []
        for size in BATCHES:
            on, off = (r["runs"] for r in (logged, unlogged))
            p50 = on[f"{size}x1"]["p50_ms"], off[f"{size}x1"]["p50_ms"]
            rps = on[f"{size}x8"]["throughput_rps"], off[f"{size}x8"]["throughput_rps"]
            log_rows.append([size, *p50, ratio(*p50), ratio(*rps)])
        tables.append(
            table(
                "prediction log overhead (the same service, logging on / off)",
                ["records", "p50 ms on", "p50 ms off", "p50 on/off", "req/s c=8 on/off"],
                log_rows,
            )
        )
    tables.append(targets_table(targets))
    for note in notes:
        print(f"serving: note: {note[:500]}")
    write_result(
        NAME,
        {
            "model": FAST_MODEL,
            "default_model": default_model,
            "raw_default_model": raw_default,
            "package": package,
            "seconds_per_run": seconds,
            "raw": raw,
            "servers": measured,
            "notes": notes,
            "targets": targets,
        },
        tables,
        started,
        quick=bool(context.get("quick")),
    )
    return {"targets": targets}


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main([NAME, *sys.argv[1:]]))
