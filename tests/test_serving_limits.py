"""A baked project's service as `bentoml serve` runs it, on 127.0.0.1: every error answer in the
shape its OpenAPI document declares (schemathesis, all checks), a 200 MB body refused with a 413
before the worker reads it, the optional API key, and `make serve` refusing an open service on a
non-loopback address. The model is fitted on the project's example data and put in a scratch
BentoML store directly: no pipeline, registry or bento is needed to serve from source."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests
from conftest import bake, run
from servers import Served, free_port, ready

pytestmark = pytest.mark.slow
KEY = "test-key-0123456789"
# Fits the project's own pipeline on its example data and stores it as <registry.model>:v0.0.1.
STORE = """
import shutil, tempfile
from pathlib import Path
import bentoml
from {package}.core.config import CONTRACT_FILE, MODEL_FILE, load_params
from {package}.data.contract import load_contract
from {package}.core.modelfile import save_model
from {package}.data.tables import read_table
from {package}.training.train import build_model

params, contract = load_params(), load_contract()
if not params.data.raw.exists():
    from {package}.data.ingest import ingest
    ingest(params.data.source, params.data.raw)
frame = read_table(params.data.raw, contract)
model = build_model(contract, params.model).fit(frame[contract.features], frame[contract.target])
labels = {{"version": "v0.0.1", "commit": "0" * 40, "task": params.task}}
with tempfile.TemporaryDirectory() as scratch:
    save_model(model, Path(scratch) / MODEL_FILE.name)
    with bentoml.models.create(f"{{params.registry.model}}:v0.0.1", labels=labels) as stored:
        shutil.copy(Path(scratch) / MODEL_FILE.name, stored.path_of(MODEL_FILE.name))
        shutil.copy(CONTRACT_FILE, stored.path_of(CONTRACT_FILE.name))
"""


@pytest.fixture(scope="module", params=["classification-csv", "regression-diabetes"])
def project(request, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A baked project with a model in its own BentoML store, and the environment to serve it."""
    task, dataset = request.param.split("-")
    root = tmp_path_factory.mktemp(request.param)
    project = bake(root, task=task, dataset=dataset, init_git="no")
    env = {
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
        "PYTHONPATH": str(project / "src"),
        "PREDICTION_LOG_DIR": str(root / "logs"),
    }
    run([sys.executable, "-c", STORE.format(package="actions_mlops")], project, env=env)
    return project, env


class Server(Served):
    """`bentoml serve actions_mlops.serving.service:ModelService` on a free port, stopped by its
    PID."""

    def __init__(self, project: Path, env: dict[str, str]) -> None:
        port = free_port()
        command = [sys.executable, "-m", "bentoml", "serve"]
        command += ["actions_mlops.serving.service:ModelService", "--host", "127.0.0.1"]
        log = project.parent / f"serve-{port}.log"
        super().__init__([*command, "--port", str(port)], project, {**os.environ, **env}, log, port)

    def worker(self) -> psutil.Process:
        """The process that answers requests: the newest child of `bentoml serve`."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        return max(children, key=lambda p: p.create_time())


@pytest.fixture(scope="module")
def server(project):
    served = Server(*project)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def keyed_server(project):
    folder, env = project
    served = Server(folder, {**env, "API_KEY": KEY})
    yield served
    served.stop()


def schemathesis(url: str, cwd: Path, *headers: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/docs.json"]
    command += ["--checks", "all", "--max-examples", "40", "--workers", "1"]
    command += ["--generation-deterministic", "--seed", "1"]
    for header in headers:
        command += ["--header", header]
    # schemathesis keeps its example database in the working directory
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_schemathesis_all_checks_find_nothing(server, project):
    result = schemathesis(server.url, project[0].parent)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "Traceback" not in server.log.read_text(), "a client error was logged with a traceback"


def test_schemathesis_all_checks_with_an_api_key(keyed_server, project):
    result = schemathesis(keyed_server.url, project[0].parent, f"Authorization: Bearer {KEY}")
    assert result.returncode == 0, result.stdout[-6000:]


def test_the_api_key_is_required_except_on_probes(keyed_server):
    spec = requests.get(f"{keyed_server.url}/docs.json", timeout=10).json()
    assert spec["paths"]["/predict"]["post"]["security"] == [{"apiKey": []}]
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = requests.post(f"{keyed_server.url}/predict", json={}, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for path in ("/healthz", "/livez", "/readyz", "/metrics"):
        assert requests.get(f"{keyed_server.url}{path}", timeout=10).status_code == 200, path


def peak_rss_while(process: psutil.Process, action) -> tuple[int, object]:
    """(peak RSS in bytes of `process` while `action()` runs, its result)."""
    peak, stop = [process.memory_info().rss], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = action()
    finally:
        stop.set()
        sampler.join()
    return peak[0], result


def test_a_200_mb_body_is_refused_before_it_is_read(server):
    body = b'{"records": [' + b" " * 200_000_000 + b"]}"

    def chunks():
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    def send(data) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        return requests.post(f"{server.url}/predict", data=data, headers=headers, timeout=120)

    worker = server.worker()
    before = worker.memory_info().rss
    for data in (body, chunks()):
        peak, response = peak_rss_while(worker, functools.partial(send, data))
        assert response.status_code == 413, response.text
        limit = response.json()["detail"][0]["limit"]
        assert f"larger than {limit} bytes" in response.json()["error"]
        print(f"worker RSS {before / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB (limit {limit})")
        assert peak - before < 50 * 2**20
    assert ready(server.url)


def test_make_serve_refuses_an_open_service_beyond_loopback(project, project_env):
    folder, env = project
    refused = run(
        ["make", "serve", "HOST=0.0.0.0", f"VENV={project_env}"], folder, check=False, env=env
    )
    assert refused.returncode != 0
    assert "set API_KEY" in refused.stderr and "ALLOW_NO_API_KEY=1" in refused.stderr
