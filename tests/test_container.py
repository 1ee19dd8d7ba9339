"""The released container, built and run with a real Docker engine: a baked project registered
and packaged, `make containerize`, then `docker run` of the image as its non-root user with a
prediction-log volume, called over HTTP on 127.0.0.1. One bake, one image build.

The csv variant: its contract has int, float, str and nullable columns, and its bad requests are
those the served bento already rejects (test_registry_serving.BAD). Its features.py and hooks
are test_serving_hooks': the image must carry the project's package, whose transformer class is
in the model and whose postprocess hook labels the predictions."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import requests
from conftest import make, run
from packaging.utils import canonicalize_name
from servers import free_port, ready
from test_registry_serving import (
    BAD,
    MODEL,
    gate,
    in_process_predictions,
    pushed_project,
    records_of,
)
from test_serving_hooks import FEATURES, HOOKS, PACKAGE

pytestmark = pytest.mark.slow
IMAGE = f"ghcr.io/example-org/{MODEL}"
LOG_DIR = "/predictions"  # the volume's mount point in the container
TRAINING_ONLY = {"pandera", "pyarrow", "dvc", "gto", "matplotlib"}


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    return run(["docker", *args], Path.cwd(), check=check, timeout=timeout).stdout.strip()


@pytest.fixture(scope="module")
def built(docker_engine, tmp_path_factory, project_env):
    """(project, bento folder, image) after repro, register and `make containerize`."""
    root = tmp_path_factory.mktemp("container")
    env = {
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
        "DOCKER_BUILDKIT": "0",  # the classic builder: no buildx needed
    }
    files = {f"src/{PACKAGE}/features.py": FEATURES}
    project = pushed_project(root, project_env, params=HOOKS, files=files)
    gate(project, project_env)  # a real verdict on HEAD: register checks what it judged
    make(project, "register", project_env, env=env)
    started = time.monotonic()
    built = make(project, "containerize", project_env, env=env, timeout=1500)
    assert "legacy builder" not in built.stdout + built.stderr  # Docker's notice, filtered
    assert "Successfully tagged" in built.stdout  # the build's own output still shows
    size = int(docker("image", "inspect", "--format", "{{.Size}}", f"{IMAGE}:0.1.0"))
    print(f"image {IMAGE}:0.1.0: {size / 1e6:.0f} MB, built in {time.monotonic() - started:.0f} s")
    yield project, root / "bentoml" / "bentos" / MODEL / "v0.1.0", f"{IMAGE}:0.1.0"
    docker("rmi", f"{IMAGE}:0.1.0", f"{IMAGE}:latest", check=False)


@contextmanager
def running(image: str, *options: str) -> Iterator[tuple[str, str]]:
    """(url, container name) of `docker run image` on a free port of 127.0.0.1, once /readyz
    answers (at most 180 s); the container is removed on exit. `options` go to `docker run`."""
    name, port = f"container-test-{time.time_ns()}", free_port()
    started = time.monotonic()
    publish = f"127.0.0.1:{port}:3000"
    docker("run", "--detach", "--name", name, "--publish", publish, *options, image)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while not ready(url):
            running = docker("inspect", "--format", "{{.State.Running}}", name)
            if time.monotonic() > deadline or running != "true":
                logs = run(["docker", "logs", name], Path.cwd(), check=False)
                pytest.fail(f"not ready: {(logs.stdout + logs.stderr)[-3000:]}")
            time.sleep(0.5)
        print(f"container ready in {time.monotonic() - started:.1f} s")
        yield url, name
    finally:
        docker("rm", "--force", name, check=False)


@pytest.fixture(scope="module")
def served(built, tmp_path_factory):
    """(url, container name, host folder of the prediction log) of the running image."""
    volume = tmp_path_factory.mktemp("predictions")
    volume.chmod(0o777)  # the image's user owns nothing on the host
    mount = ("--volume", f"{volume}:{LOG_DIR}", "--env", f"PREDICTION_LOG_DIR={LOG_DIR}")
    with running(built[2], *mount) as (url, name):
        yield url, name, volume


def check_the_image_runs_as_a_non_root_user(built, served) -> None:
    _, name, _ = served
    assert docker("image", "inspect", "--format", "{{.Config.User}}", built[2]) == "bentoml"
    assert docker("exec", name, "id", "-u") != "0"


def pins(lines: list[str]) -> set[str]:
    """`name==version` lines with canonical names (PyYAML and pyyaml are one package)."""
    return {
        f"{canonicalize_name(name)}=={version}"
        for name, _, version in (line.partition("==") for line in lines if "==" in line)
    }


def check_the_image_holds_exactly_the_bentos_pinned_packages(built) -> None:
    _, bento, image = built
    listing = "import importlib.metadata as m; [print(f'{d.name}=={d.version}') for d in m.distributions()]"  # noqa: E501
    installed = pins(docker("run", "--rm", "--entrypoint", "python", image, "-c", listing).split())
    print("image packages:", " ".join(sorted(installed)))
    assert installed == pins((bento / "env" / "python" / "requirements.txt").read_text().split())
    names = {pin.split("==")[0] for pin in installed}
    assert {"bentoml", "scikit-learn", "skops"} <= names
    assert not names & TRAINING_ONLY


def check_predictions_equal_the_models_and_are_logged_to_the_volume(
    built, served, project_env
) -> None:
    project = built[0]
    url, _, volume = served
    test = pd.read_parquet(project / "data/split/test.parquet")
    rows = test.drop(columns=["churned", "customer_id"]).head(20)
    expected = in_process_predictions(project, project_env, len(rows))
    response = requests.post(
        f"{url}/predict", json={"records": records_of(rows, project)}, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"] == [f"class-{p}" for p in expected]  # the postprocess hook's
    assert body["model_version"] == "v0.1.0"
    logged = [json.loads(line) for line in (volume / "predictions.jsonl").read_text().splitlines()]
    assert [entry["request_id"] for entry in logged] == [body["request_id"]] * len(rows)
    assert [entry["prediction"] for entry in logged] == expected


def check_bad_requests_get_a_4xx_and_the_container_stays_up(served) -> None:
    url = served[0]
    for case, (body, reason) in BAD.items():
        data = body if isinstance(body, str) else json.dumps(body)
        response = requests.post(
            f"{url}/predict", data=data, headers={"Content-Type": "application/json"}, timeout=30
        )
        assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
        assert reason in response.text, (case, response.text)
    not_json = requests.post(
        f"{url}/predict", data="a=1", headers={"Content-Type": "text/plain"}, timeout=30
    )
    assert not_json.status_code == 415
    assert ready(url)


def check_the_container_stops_cleanly(served) -> None:
    _, name, _ = served
    started = time.monotonic()
    docker("stop", "--time", "30", name, timeout=60)
    assert docker("inspect", "--format", "{{.State.ExitCode}}", name) == "0"
    print(f"stopped in {time.monotonic() - started:.1f} s")


def test_the_released_image_starts_and_serves(built, served, project_env):
    """One test, so that pytest-xdist never builds the image twice (one per worker)."""
    check_the_image_runs_as_a_non_root_user(built, served)
    check_the_image_holds_exactly_the_bentos_pinned_packages(built)
    check_predictions_equal_the_models_and_are_logged_to_the_volume(built, served, project_env)
    check_bad_requests_get_a_4xx_and_the_container_stays_up(served)
    check_the_container_stops_cleanly(served)
