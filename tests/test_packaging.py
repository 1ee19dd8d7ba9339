"""`make package` in two projects with the same model name and one BentoML store: the second
project never serves the first one's model."""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path

import pytest
import yaml
from conftest import make, run
from test_registry_serving import MODEL, gate, pushed_project, register

pytestmark = pytest.mark.slow
TAG = f"{MODEL}:v0.1.0"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """One BentoML home for both projects."""
    home = tmp_path_factory.mktemp("bentoml")
    patch = pytest.MonkeyPatch()
    patch.setenv("BENTOML_HOME", str(home))
    patch.setenv("BENTOML_DO_NOT_TRACK", "True")
    yield home
    patch.undo()


def registered(root: Path, project_env: Path, params: dict | None = None) -> Path:
    project = pushed_project(root, project_env, params)
    gate(project, project_env)
    register(project, project_env)
    return project


def test_a_second_project_with_the_same_model_name_gets_its_own_bento(
    tmp_path_factory, project_env, store
):
    first = registered(tmp_path_factory.mktemp("first"), project_env)
    second = registered(
        tmp_path_factory.mktemp("second"),
        project_env,
        {"model.params.C": 0.5, "monitor.keep": 7},
    )
    first_model, second_model = (sha256(p / "models" / "model.skops") for p in (first, second))
    assert first_model != second_model
    make(first, "package", project_env)

    refused = make(second, "package", project_env, check=False)
    assert refused.returncode != 0
    line = refused.stdout.strip().splitlines()[-1]
    assert line.startswith(f"package: refused: the BentoML store already holds model {TAG}")
    assert str(first.parent / "origin.git") in line
    command = line.split("`")[1]
    assert command == f"bentoml delete {TAG} -y && bentoml models delete {TAG} -y"
    bentoml = shlex.quote(str(project_env / "bin" / "bentoml"))
    run(command.replace("bentoml ", f"{bentoml} "), second)

    make(second, "package", project_env)
    assert sha256(store / "models" / MODEL / "v0.1.0" / "model.skops") == second_model
    bento = yaml.safe_load((store / "bentos" / MODEL / "v0.1.0" / "bento.yaml").read_text())
    assert bento["labels"]["model_sha256"] == second_model
    assert bento["labels"]["repository"] == str(second.parent / "origin.git")
    assert bento["args"]["model_tag"] == TAG
    log = bento["args"]["monitor"]
    assert (log["log_dir"], log["keep"]) == ("logs/predictions", 7)

    again = make(second, "package", project_env)
    assert "rebuilding" not in again.stdout

    stored = store / "models" / MODEL / "v0.1.0" / "model.skops"
    stored.write_bytes(stored.read_bytes() + b"\0")  # this project's entry, altered in the store
    rebuilt = make(second, "package", project_env)
    assert f"package: rebuilding model {TAG} in the BentoML store (model_sha256 differ)" in (
        rebuilt.stdout
    )
    assert sha256(store / "models" / MODEL / "v0.1.0" / "model.skops") == second_model
