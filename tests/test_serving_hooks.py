"""The owner's code in the served bento: a features.py with a transformer class of its own and
the service's hooks (params `serve.preprocess`, `serve.postprocess`) from the project's package.
Real parts as test_registry_serving: repro, a BLESSED gate, `make register`, `make package`,
`make serve` on 127.0.0.1, called over HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import requests
from conftest import make
from servers import free_port, serving
from test_registry_serving import (
    GOOD,
    MODEL,
    gate,
    in_process_predictions,
    pushed_project,
    records_of,
)

pytestmark = pytest.mark.slow
PACKAGE = "churn_model"
# The owner's features.py: the default features, then a transformer class defined here (skops
# saves it by name: the model file holds a type of this project), and two hooks.
FEATURES = '''"""Features with a transformer of this project's own, and the service's hooks."""

from __future__ import annotations

from typing import Any

import numpy as np
from actions_mlops.core.config import OneHotParams
from actions_mlops.data.contract import Contract
from actions_mlops.data.features import default_features
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline


class Clip(TransformerMixin, BaseEstimator):
    """Scaled values beyond +-limit set to the limit."""

    def __init__(self, limit: float = 3.0) -> None:
        self.limit = limit

    def fit(self, X: Any, y: Any = None) -> Clip:
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X: Any) -> Any:
        return np.clip(X, -self.limit, self.limit)


def build_features(contract: Contract, one_hot: OneHotParams) -> Pipeline:
    """The default features, clipped."""
    return Pipeline([("default", default_features(contract, one_hot)), ("clip", Clip())])


def preprocess(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as they are; a region named "fail" raises."""
    if any(record["region"] == "fail" for record in records):
        raise ValueError("region fail is not served")
    return records


def postprocess(response: dict[str, Any]) -> dict[str, Any]:
    """Each prediction as a label."""
    response["predictions"] = [f"class-{p}" for p in response["predictions"]]
    return response
'''
HOOKS = {
    "serve.preprocess": f"{PACKAGE}.features:preprocess",
    "serve.postprocess": f"{PACKAGE}.features:postprocess",
}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("bentoml")
    return {"BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "True"}


@pytest.fixture(scope="module")
def project(tmp_path_factory, project_env, env) -> Path:
    """The owner's features.py and hooks, trained, gated and registered as v0.1.0."""
    files = {f"src/{PACKAGE}/features.py": FEATURES}
    root = tmp_path_factory.mktemp("hooks")
    project = pushed_project(root, project_env, params=HOOKS, files=files)
    gate(project, project_env)
    make(project, "register", project_env, env=env)
    return project


@pytest.fixture(scope="module")
def server(project, project_env, env):
    """`make package`, then `make serve` on a free port (its process group stopped after)."""
    packaged = make(project, "package", project_env, env=env).stdout
    assert f"preprocess {PACKAGE}.features:preprocess" in packaged, packaged
    assert f"postprocess {PACKAGE}.features:postprocess" in packaged, packaged
    bento = Path(env["BENTOML_HOME"]) / "bentos" / MODEL / "v0.1.0" / "src"
    assert (bento / PACKAGE / "features.py").read_text() == FEATURES
    port = free_port()
    command = ["make", "serve", f"VENV={project_env}", f"PORT={port}"]
    log = project.parent / "serve.log"
    with serving(command, project, {**os.environ, **env}, log, port) as served:
        yield served.url, log


def test_the_custom_transformer_serves_and_the_hooks_run(project, project_env, server):
    url, _ = server
    test = pd.read_parquet(project / "data/split/test.parquet")
    rows = test.drop(columns=["churned", "customer_id"]).head(20)
    expected = in_process_predictions(project, project_env, len(rows))
    answer = requests.post(f"{url}/predict", json={"records": records_of(rows, project)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == [f"class-{p}" for p in expected]
    logged = [
        json.loads(line)
        for path in sorted((project / "logs" / "predictions").glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    # the log keeps what the model said, before postprocess
    assert [entry["prediction"] for entry in logged[-len(rows) :]] == expected


def test_a_failing_hook_is_a_500_and_one_log_line(server):
    url, log = server
    failing = requests.post(f"{url}/predict", json={"records": [{**GOOD, "region": "fail"}]})
    assert failing.status_code == 500, failing.text
    lines = [line for line in log.read_text().splitlines() if "region fail" in line]
    assert len(lines) == 1 and "serve.preprocess preprocess failed: ValueError" in lines[0]
    assert "Traceback" not in log.read_text()
    again = requests.post(f"{url}/predict", json={"records": [GOOD]})
    assert again.status_code == 200 and again.json()["predictions"][0].startswith("class-")
