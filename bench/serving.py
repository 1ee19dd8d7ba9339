"""Serving: one trained model answered by (a) a raw in-process call, (b) a minimal Starlette +
uvicorn app, (c) the project's BentoML service (`<package>.serving.service:ModelService`,
served from source with the model saved by the project's own `package.save_model`), and (c)
again with adaptive batching (bench/apps/batched_service.py). One worker each.

First, the project's default model: where one request's time goes (bench/apps/breakdown.py,
in-process, each part alone; HTTP = served p50 minus the in-process total), served through the
fast path and with FAST_PATH=off (the pipeline's preprocessing per request, as before the fast
path), next to (b0), a Starlette no-op handler, and (c0), a BentoML no-op service
(bench/apps/bentoml_noop.py): the issue-21 goals, each with BentoML's own floor beside it. Then
(d), the same model's container image (bench/image.py; full runs, or --quick with BENCH_IMAGE=1).

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

from bench import image
from bench.common import (
    PLATFORM_PACKAGE,
    PLATFORM_SOURCE,
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
# Served model for the stack comparison: LogisticRegression (the template's default for
# classification since bench/estimators.py measured it), so the numbers are about the stack.
FAST_MODEL = {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 1000}}
MAX_REQUESTS = {1: 400, 8: 6000, 32: 6000}
READY_TIMEOUT = 120
SAVED_VERSION = "v0.0.1"  # the version the bench saves its models under in the BentoML store
NOOP_BENTOML = "(c0) bentoml no-op"  # BentoML's own floor (bench/apps/bentoml_noop.py)


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
        log.parent.mkdir(parents=True, exist_ok=True)
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


def measure_server(
    server: Server,
    bodies: dict[int, Path],
    seconds: float,
    concurrencies: tuple[int, ...] = CONCURRENCY,
) -> dict[str, Any]:
    ready_s = server.wait_ready()
    drive(server.port, bodies[1], 1, 1.0)  # warm-up: first requests load lazily
    idle = server.memory()
    runs = {}
    for size, body in bodies.items():
        drive(server.port, body, 1, 0.5)
        for concurrency in concurrencies:
            runs[f"{size}x{concurrency}"] = drive(server.port, body, concurrency, seconds)
    return {
        "ready_s": ready_s,
        "memory_idle": idle,
        "memory_loaded": server.memory(),
        "runs": runs,
        "preprocessing": preprocessing_line(server.log),
    }


def preprocessing_line(log: Path) -> str | None:
    """Which preprocessing the project's service said it runs (its one line at start)."""
    lines = [
        line for line in log.read_text(errors="replace").splitlines() if "Preprocessing:" in line
    ]
    return lines[-1].split("Preprocessing:", 1)[1].strip() if lines else None


def serve_variants(
    variants: dict[str, tuple[list[str], dict[str, str]]],
    project: Path,
    env: dict[str, str],
    work: Path,
    run_server: Any,
    notes: list[str],
) -> dict[str, Any]:
    """Each variant (command, extra environment) started, measured by `run_server`, stopped;
    each with its own log file under `work`."""
    measured = {}
    for index, (name, (command, extra)) in enumerate(variants.items()):
        server = Server(command, project, env | extra, work / "servers" / f"{index}.log")
        try:
            measured[name] = run_server(server)
        except (RuntimeError, subprocess.SubprocessError) as error:
            notes.append(f"{name} failed: {str(error)[:2000]}")
            print(f"serving: {name} failed: {error}", file=sys.stderr, flush=True)
        finally:
            server.stop()
        print(f"serving: {name} measured", flush=True)
    return measured


PARTS = ("validation", "conversion", "preprocessing", "estimator", "response", "logging")


def in_process(breakdown: dict[str, Any], path: str) -> dict[str, float]:
    """The parts of one request in ms, with the preprocessing of `path` (compiled, pipeline)."""
    parts = dict(breakdown["parts_ms"])
    parts["preprocessing"] = parts[f"preprocessing {path}"]
    return {part: parts[part] for part in PARTS}


def default_model_tables(default: dict[str, Any], estimator: str) -> list[str]:
    """The request broken down, before (FAST_PATH=off) and after (fast path), 1 and 100
    records; which path each server ran."""
    breakdown, servers = default["breakdown"], default["servers"]
    if not breakdown:
        return []
    paths = {"pipeline": "(c) bentoml, FAST_PATH=off", "compiled": "(c) bentoml, fast path"}
    columns, rows = ["part"], {part: [part] for part in (*PARTS, "in-process total", "HTTP")}
    rows["served p50"] = ["served p50 (c=1)"]
    for size in BATCHES:
        for path, server in paths.items():
            columns.append(f"{size} rec, {'before' if path == 'pipeline' else 'fast path'}")
            parts = in_process(breakdown[size], path)
            total = round(sum(parts.values()), 4)
            served = servers.get(server, {}).get("runs", {}).get(f"{size}x1", {}).get("p50_ms")
            for part, value in parts.items():
                rows[part].append(value)
            rows["in-process total"].append(total)
            rows["HTTP"].append(round(served - total, 3) if served else None)
            rows["served p50"].append(served)
    tables = [
        table(
            f"one request to the default model ({estimator}), in ms: in-process p50 of each "
            "part, HTTP = served p50 - in-process total; before = FAST_PATH=off (the pipeline's "
            "preprocessing per request)",
            columns,
            list(rows.values()),
        )
    ]
    server_rows = [
        [
            name,
            result["runs"]["1x1"]["p50_ms"],
            result["runs"]["1x1"]["p99_ms"],
            result["runs"]["100x1"]["p50_ms"],
            result["ready_s"],
            result["memory_loaded"]["largest_process_mb"],
            result.get("preprocessing") or "-",
        ]
        for name, result in servers.items()
    ]
    old_estimator = breakdown[1]["parts_ms"].get("estimator, predict_proba + predict")
    title = f"the default model ({estimator}) served, c=1"
    if old_estimator is not None:
        title += f" (in-process, 1 record: predict_proba + predict as before {old_estimator} ms)"
    tables.append(
        table(
            title,
            [
                "variant",
                "p50 ms 1 rec",
                "p99 ms 1 rec",
                "p50 ms 100 rec",
                "ready s",
                "worker MB",
                "preprocessing (server log)",
            ],
            server_rows,
        )
    )
    return tables


def with_floor(goal: dict[str, Any], floor: float | None) -> dict[str, Any]:
    """The goal with BentoML's own floor for the same figure (the no-op service's, (c0)) and
    the project's share beyond it: measured = floor + ours."""
    ours = None
    if floor is not None and goal["measured"] is not None:
        ours = round(goal["measured"] - floor, 3)
    return goal | {"bentoml_floor": floor, "ours": ours}


def default_model_goals(default: dict[str, Any], measured: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 21's goals, measured / limit / met; the served and preprocessing ones also for the
    path before the fast path (FAST_PATH=off). Each with BentoML's floor where it has one: the
    (c0) no-op service's p50, time to /readyz or worker memory."""
    one = default["breakdown"].get(1)
    servers = default["servers"]

    def p50(name: str) -> float | None:
        return servers[name]["runs"]["1x1"]["p50_ms"] if name in servers else None

    floor = servers.get(NOOP_BENTOML)
    goals = []
    noop = p50("(b0) starlette no-op")
    if one and noop:
        bare = one["bare_estimator_row_ms"]
        for name, label in (
            ("(c) bentoml, fast path", "fast path"),
            ("(c) bentoml, FAST_PATH=off", "before"),
        ):
            goal = target(
                f"served p50 ms, 1 record, default model ({label}) <= 2 x (bare estimator "
                f"{bare:.3g} + no-op {noop:.3g})",
                p50(name),
                round(2 * (bare + noop), 3),
            )
            goals.append(with_floor(goal, p50(NOOP_BENTOML)))
    if one:
        logistic = one["bare_logistic_row_ms"]
        for path, label in (("compiled", "fast path"), ("pipeline", "before")):
            goal = target(
                f"preprocessing ms, 1 record ({label}) <= 3 x bare LogisticRegression "
                f"{logistic:.3g}",
                one["parts_ms"][f"preprocessing {path}"],
                round(3 * logistic, 4),
            )
            goals.append(with_floor(goal, None))  # all of it is the project's
    bento, base = measured.get("(c) bentoml"), measured.get("(b) starlette+uvicorn")
    if bento and base:
        goal = target(
            f"cold start s to /readyz <= 1.5 x Starlette's {base['ready_s']}",
            bento["ready_s"],
            round(1.5 * base["ready_s"], 2),
        )
        goals.append(with_floor(goal, floor and floor["ready_s"]))
        worker = base["memory_loaded"]["largest_process_mb"]
        goal = target(
            f"worker memory MB <= 1.2 x Starlette's {worker}",
            bento["memory_loaded"]["largest_process_mb"],
            round(1.2 * worker, 1),
        )
        goals.append(with_floor(goal, floor and floor["memory_loaded"]["largest_process_mb"]))
    return goals


def goals_table(goals: list[dict[str, Any]]) -> str:
    """The goals of issue 21, measured / limit / met, and how much of each measured figure is
    BentoML's floor (the no-op service, (c0)) and how much is the project's."""
    rows = [
        [g["target"], g["measured"], g["limit"], g["met"], g.get("bentoml_floor"), g.get("ours")]
        for g in goals
    ]
    return table(
        f"goals (issue 21); BentoML floor = {NOOP_BENTOML}'s figure, ours = measured - floor",
        ["goal", "measured", "limit", "met", "BentoML floor", "ours"],
        rows,
    )


def image_run(
    project: Path,
    python: Path,
    env: dict[str, str],
    params: dict[str, Any],
    bodies: dict[int, Path],
    seconds: float,
    work: Path,
    notes: list[str],
) -> dict[str, Any] | None:
    """The default model's container image measured (bench/image.py), or None with a note."""
    if not image.engine_ready():
        notes.append("image skipped: no Docker engine (`docker info` failed)")
        return None
    tag = f"{params['registry']['model']}:{SAVED_VERSION}"
    try:
        result = image.measure_image(
            project, python, env, tag, bodies, drive, free_port(), seconds, work
        )
    except (RuntimeError, subprocess.SubprocessError) as error:
        notes.append(f"image failed: {str(error)[:2000]} (log: {work / 'image.log'})")
        return None
    print("serving: image measured", flush=True)
    return result


def image_table(default: dict[str, Any]) -> list[str]:
    """The container next to the same model served from source (both c=1, one worker)."""
    found, source = default.get("image"), default["servers"].get("(c) bentoml, fast path")
    if not found or not source:
        return []
    rows = [
        [
            "(c) from source, bentoml serve",
            source["ready_s"],
            source["memory_idle"]["largest_process_mb"],
            source["memory_loaded"]["largest_process_mb"],
            source["memory_idle"]["total_mb"],
            source["memory_loaded"]["total_mb"],
            source["runs"]["1x1"]["p50_ms"],
            source["runs"]["100x1"]["p50_ms"],
        ],
        [
            f"(d) container {found['image']}",
            found["ready_s"],
            found["memory_idle"]["largest_process_mb"],
            found["memory_loaded"]["largest_process_mb"],
            found["memory_idle"]["cgroup_mb"],
            found["memory_loaded"]["cgroup_mb"],
            found["runs"]["1x1"]["p50_ms"],
            found["runs"]["100x1"]["p50_ms"],
        ],
    ]
    title = (
        f"the default model's container image ({found['size_mb']} MB, built in "
        f"{found['build_s']} s) vs served from source; ready = process start (`docker run`) to "
        "/readyz 200; total MB: all the server's processes (source) or the container's cgroup "
        "(page cache excluded); idle = after a warm-up, loaded = after the load runs"
    )
    columns = ["variant", "ready s", "worker MB idle", "worker MB loaded", "total MB idle"]
    columns += ["total MB loaded", "p50 ms 1 rec", "p50 ms 100 rec"]
    return [table(title, columns, rows)]


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
    package = PLATFORM_PACKAGE
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

    def app_rows(module: str, *options: str) -> dict[int, dict[str, Any]]:
        """Run a bench app on the request bodies; its JSON lines, keyed by record count."""
        output = subprocess.run(
            [str(python), "-m", module, *map(str, bodies.values()), *options],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {r["records"]: r for r in map(json.loads, output.strip().splitlines())}

    src = PLATFORM_SOURCE
    has_service = all(
        (src / module).exists()
        for module in ("serving/service.py", "serving/fastpath.py", "release/package.py")
    )
    saver = (
        f"from {package}.core.config import load_params;"
        f" from {package}.release.package import save_model;"
        f" print(save_model(load_params(), {SAVED_VERSION!r}, 'bench').tag)"
    )
    uvicorn = [str(python), "-m", "uvicorn", "--workers", "1", "--log-level", "warning"]
    uvicorn.append("--no-access-log")
    bentoml = [str(python), "-m", "bentoml", "serve"]
    service = f"{package}.serving.service:ModelService"
    # The project's service logs every prediction (predictionlog.py), here to a scratch folder.
    env["PREDICTION_LOG_DIR"] = str(work / "predictions")

    params = yaml.safe_load((project / "params.yaml").read_text())
    default_model = params["model"]
    raw_default = app_rows("bench.apps.raw_predict")
    default: dict[str, Any] = {"breakdown": {}, "servers": {}}
    if not has_service:
        notes.append(f"(c) skipped: {src}: serving/service.py, fastpath.py or package.py missing")
    else:
        require(measure([str(python), "-c", saver], project, log, env), log)
        quick = ["--quick"] if context.get("quick") else []
        default["breakdown"] = app_rows("bench.apps.breakdown", *quick)
        default["servers"] = serve_variants(
            {
                "(b0) starlette no-op": ([*uvicorn, "bench.apps.asgi_noop:app"], {}),
                NOOP_BENTOML: ([*bentoml, "bench.apps.bentoml_noop:NoopService"], {}),
                "(c) bentoml, fast path": ([*bentoml, service], {}),
                "(c) bentoml, FAST_PATH=off": ([*bentoml, service], {"FAST_PATH": "off"}),
            },
            project,
            env,
            work / "default",
            lambda server: measure_server(server, bodies, seconds, (1,)),
            notes,
        )
        if not context.get("quick") or os.environ.get("BENCH_IMAGE") == "1":
            default["image"] = image_run(project, python, env, params, bodies, seconds, work, notes)

    params["model"] = FAST_MODEL
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    venv = f"VENV={python.parent.parent}"
    require(measure(["make", "train", venv], project, log, env), log)
    estimator = FAST_MODEL["estimator"].rpartition(".")[2]
    raw = app_rows("bench.apps.raw_predict")

    variants = {"(b) starlette+uvicorn": ([*uvicorn, "bench.apps.asgi_baseline:app"], {})}
    if has_service:
        require(measure([str(python), "-c", saver], project, log, env), log)  # now this model
        variants["(c) bentoml"] = ([*bentoml, service], {})
        # One variant turns the prediction log off.
        variants["(c) bentoml, no prediction log"] = (
            [*bentoml, service],
            {"PREDICTION_LOG": "off"},
        )
        batched = [*bentoml, "bench.apps.batched_service:BatchedService"]
        variants["(c) bentoml, batching"] = (batched, {})
    measured = serve_variants(
        variants,
        project,
        env,
        work / "fast-model",
        lambda server: measure_server(server, bodies, seconds),
        notes,
    )

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
    goals = default_model_goals(default, measured)
    tables += default_model_tables(default, default_model["estimator"].rpartition(".")[2])
    tables.append(goals_table(goals))
    tables += image_table(default)
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
            "default_model_breakdown": default["breakdown"],
            "default_model_servers": default["servers"],
            "default_model_image": default.get("image"),
            "goals": goals,
        },
        tables,
        started,
        quick=bool(context.get("quick")),
    )
    return {"targets": targets}


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main([NAME, *sys.argv[1:]]))
