"""A baked project's registry and serving with real parts: git with a bare `origin`, GTO, a local
DVC remote, BentoML's model store, and `bentoml serve` on 127.0.0.1 called over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import requests
import yaml
from conftest import bake, make, run
from servers import free_port, serving

pytestmark = pytest.mark.slow
MODEL = "churn-model"
GOOD = {  # typed as the baked contract.yaml says (tenure_months and support_calls are int)
    "tenure_months": 12,
    "support_calls": 2,
    "contract_type": "one-year",
    "payment_method": "card",
    "region": "north",
    "monthly_charges": 70.5,
}
# GOOD as JSON text without monthly_charges and the closing brace: NaN and inf are not JSON.
PARTIAL = json.dumps({k: v for k, v in GOOD.items() if k != "monthly_charges"})[:-1]


def git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd).stdout.strip()


def set_gate(project: Path, verdict: str | None) -> None:
    gate = project / "reports" / "gate.json"
    if verdict is None:
        gate.unlink(missing_ok=True)
    else:
        gate.write_text(json.dumps({"verdict": verdict, "checks": []}))


def gate(project: Path, project_env: Path) -> None:
    """A real BLESSED verdict on HEAD: register checks the commit and hashes it judged."""
    assert "gate: BLESSED" in make(project, "gate", project_env).stdout


def origin_tags(project: Path) -> set[str]:
    listing = git(project, "ls-remote", "--tags", "origin")
    return {line.split("refs/tags/")[1] for line in listing.splitlines() if "^{}" not in line}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("bentoml")
    return {"BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "True"}


@pytest.fixture(scope="module")
def project(tmp_path_factory, project_env, env) -> Path:
    """The project of pushed_project, with this module's BentoML store."""
    patch = pytest.MonkeyPatch()
    for key, value in env.items():
        patch.setenv(key, value)
    yield pushed_project(tmp_path_factory.mktemp("registry"), project_env)
    patch.undo()


def pushed_project(
    root: Path, project_env: Path, params: dict | None = None, files: dict | None = None
) -> Path:
    """A baked csv/classification project in `root` with a local DVC remote, `params` (dotted
    params.yaml keys) set, `files` (path -> text) written, its pipeline run and committed,
    pushed to a bare repository `origin`."""
    project = bake(root, task="classification", dataset="csv", dvc_remote="local")
    for name, text in (files or {}).items():
        (project / name).write_text(text)
    for key, value in (("user.email", "t@example.com"), ("user.name", "T")):
        git(project, "config", key, value)
    if params:
        settings = yaml.safe_load((project / "params.yaml").read_text())
        for dotted, value in params.items():
            *parents, name = dotted.split(".")
            section = settings
            for parent in parents:
                section = section[parent]
            section[name] = value
        (project / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    make(project, "repro", project_env)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "first model")
    git(root, "init", "-q", "--bare", "-b", "main", "origin.git")
    git(project, "remote", "add", "origin", str(root / "origin.git"))
    git(project, "push", "-q", "origin", "main")
    return project


def register(project: Path, project_env: Path, check: bool = True):
    return make(project, "register", project_env, check=check)


def test_registration_refuses_without_a_blessed_gate(project, project_env):
    for verdict, reason in ((None, "gate.json not found"), ("NOT_BLESSED", "did not bless")):
        set_gate(project, verdict)
        result = register(project, project_env, check=False)
        assert result.returncode != 0
        assert reason in result.stderr
    assert git(project, "tag") == ""


def test_registration_refuses_a_dirty_tree(project, project_env):
    set_gate(project, "BLESSED")
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\nedited\n")
    result = register(project, project_env, check=False)
    git(project, "checkout", "README.md")
    assert result.returncode != 0
    assert "uncommitted changes" in result.stderr
    assert git(project, "tag") == ""


def test_register_tags_pushes_and_rerunning_is_a_no_op(project, project_env):
    gate(project, project_env)
    first = register(project, project_env)
    assert f"{MODEL}@v0.1.0" in first.stdout
    assert origin_tags(project) == {f"{MODEL}@v0.1.0"}
    message = git(project, "tag", "--list", "--format=%(contents)", f"{MODEL}@v0.1.0")
    head = git(project, "rev-parse", "HEAD")
    for line in (f"commit: {head}", "gate: BLESSED", "data: data/raw/dataset.csv md5:", "roc_auc:"):
        assert line in message
    storage = project.parent / f"{MODEL}-dvc-storage"
    assert any(path.is_file() for path in storage.rglob("*")), "model not pushed to DVC remote"

    again = register(project, project_env)
    assert "nothing to do" in again.stdout
    assert origin_tags(project) == {f"{MODEL}@v0.1.0"}
    # the release workflow's view of HEAD, read through GTO by the Makefile
    state = make(project, "release-state", project_env).stdout
    assert f"tag={MODEL}@v0.1.0 released=false" in state


def test_promote_assigns_a_stage_and_refuses_unknown_versions(project, project_env):
    run(["make", "promote", "VERSION=v0.1.0", "STAGE=prod", f"VENV={project_env}"], project)
    assert f"{MODEL}#prod#1" in origin_tags(project)
    unknown = run(
        ["make", "promote", "VERSION=v7.0.0", "STAGE=prod", f"VENV={project_env}"],
        project,
        check=False,
    )
    assert unknown.returncode != 0
    assert "not registered" in unknown.stderr


def hook(clone: Path, wait_for: str) -> None:
    """A pre-push hook that holds the push until `wait_for` (a shell condition) holds."""
    script = clone / ".git" / "hooks" / "pre-push"
    script.write_text(
        f"#!/bin/sh\nfor i in $(seq 600); do {wait_for} && exit 0; sleep 0.1; done\nexit 1\n"
    )
    script.chmod(0o755)


def test_two_clones_registering_at_once_get_distinct_versions(project, project_env):
    """A pushes only after B has tagged the same version locally; B pushes only after A's tag is
    on origin: B's push is rejected, so B must fetch, bump again and retry."""
    root = project.parent
    clones = []
    for name in ("a", "b"):
        clone = root / name  # a sibling of the project: the DVC remote's relative URL still fits
        run(["git", "clone", "-q", str(root / "origin.git"), str(clone)], root)
        for key, value in (("user.email", "t@example.com"), ("user.name", name)):
            git(clone, "config", key, value)
        run([str(project_env / "bin" / "dvc"), "pull", "-q"], clone)
        (clone / "README.md").write_text((clone / "README.md").read_text() + f"\n{name}\n")
        git(clone, "commit", "-qam", f"change in {name}")
        git(clone, "push", "-q", "origin", "main")  # only commits on origin's main register
        gate(clone, project_env)
        clones.append(clone)
    a, b = clones
    hook(a, f"git -C {b} tag --list '{MODEL}@v0.1.1' | grep -q .")
    hook(b, f"git ls-remote --tags origin '{MODEL}@v0.1.1' | grep -q .")
    command = ["make", "register", f"VENV={project_env}"]
    processes = [
        subprocess.Popen(
            command, cwd=c, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for c in clones
    ]
    outputs = [p.communicate(timeout=240)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert f"{MODEL}@v0.1.1" in outputs[0]
    assert "retrying" in outputs[1] and f"{MODEL}@v0.1.2" in outputs[1], outputs[1]
    assert origin_tags(project) >= {f"{MODEL}@v0.1.1", f"{MODEL}@v0.1.2"}


def test_gto_on_a_fresh_clone_lists_exactly_what_was_made(project, project_env):
    fresh = project.parent / "fresh"
    run(["git", "clone", "-q", str(project.parent / "origin.git"), str(fresh)], project.parent)
    gto = str(project_env / "bin" / "gto")
    summary = json.loads(run([gto, "show", "--json"], fresh).stdout)
    assert summary == {
        MODEL: {
            "version": "v0.1.2",
            "stage": {"prod": "v0.1.0"},
            "registered": True,
            "active": True,
        }
    }
    versions = json.loads(run([gto, "show", MODEL, "--json"], fresh).stdout)
    assert sorted(v["version"] for v in versions) == ["v0.1.0", "v0.1.1", "v0.1.2"]
    print(run([gto, "show"], fresh).stdout)


@pytest.fixture(scope="module")
def server(project, project_env, env):
    """`make package`, then `bentoml serve <model>:v0.1.0` on a free port; stopped by its PID."""
    make(project, "package", project_env)
    assert (Path(env["BENTOML_HOME"]) / "bentos" / MODEL / "v0.1.0" / "bento.yaml").exists()
    port = free_port()
    command = [str(project_env / "bin" / "bentoml"), "serve", f"{MODEL}:v0.1.0"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    log = project.parent / "serve.log"
    with serving(command, project, {**os.environ, **env}, log, port) as served:
        yield served.url


def in_process_predictions(project: Path, project_env: Path, count: int) -> list:
    """The model's own answers on the first test rows, from the project's code."""
    code = (
        "import json, pandas as pd; from actions_mlops.core.modelfile import load_model; "
        f"rows = pd.read_parquet('data/split/test.parquet').head({count}); "
        "print(json.dumps(load_model().predict(rows).tolist()))"
    )
    result = subprocess.run(
        [str(project_env / "bin" / "python"), "-c", code],
        cwd=project,
        text=True,
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(project / "src")},
    )
    return json.loads(result.stdout)


def records_of(rows: pd.DataFrame, project: Path) -> list[dict]:
    """Rows as request records: missing values as null, int columns as JSON integers."""
    columns = yaml.safe_load((project / "contract.yaml").read_text())["columns"]
    records = json.loads(rows.to_json(orient="records"))  # NaN -> null
    for record in records:
        for name, value in record.items():
            if columns[name]["dtype"] == "int" and value is not None:
                record[name] = int(value)
    return records


def test_served_predictions_equal_the_models(project, project_env, server):
    test = pd.read_parquet(project / "data/split/test.parquet")
    rows = test.drop(columns=["churned", "customer_id"]).head(50)
    expected = in_process_predictions(project, project_env, len(rows))
    single = requests.post(f"{server}/predict", json={"records": records_of(rows.head(1), project)})
    assert single.status_code == 200, single.text
    assert single.json()["predictions"] == expected[:1]
    batch = requests.post(f"{server}/predict", json={"records": records_of(rows, project)}).json()
    assert batch["predictions"] == expected
    assert batch["model_version"] == "v0.1.0"
    assert all(sum(p.values()) == pytest.approx(1) for p in batch["probabilities"])
    assert any(r["tenure_months"] is None for r in records_of(rows, project)), "no null tried"


def test_make_predict_scores_a_table_as_the_service_answers_it(project, project_env, server):
    """`make predict` with the served version: per row the served prediction, probabilities
    within 1e-9, the contract's key (customer_id) and the version; `make monitor` reads it."""
    test = pd.read_parquet(project / "data/split/test.parquet").drop(columns=["churned"])
    rows = test.head(50)
    rows.to_csv(project.parent / "batch.csv", index=False)
    out = project.parent / "scored.parquet"
    given = {"DATA": str(project.parent / "batch.csv"), "VERSION": "v0.1.0", "OUT": str(out)}
    made = run(["make", "predict", f"VENV={project_env}"], project, env=given)
    assert "50 rows of" in made.stdout and "50 scored" in made.stdout, made.stdout
    scored = pd.read_parquet(out)
    assert scored["customer_id"].tolist() == rows["customer_id"].tolist()
    assert set(scored["model_version"]) == {"v0.1.0"}
    features = rows.drop(columns=["customer_id"])
    served = requests.post(f"{server}/predict", json={"records": records_of(features, project)})
    answer = served.json()
    assert scored["prediction"].tolist() == answer["predictions"]
    for (_, row), shares in zip(scored.iterrows(), answer["probabilities"], strict=True):
        assert all(abs(row[f"probability_{c}"] - p) <= 1e-9 for c, p in shares.items())
    monitored = run(["make", "monitor", f"VENV={project_env}"], project, env={"BATCH": str(out)})
    assert "monitor: " in monitored.stdout


BAD = {
    "invalid JSON": ('{"records": [', "json_invalid"),
    "missing field": ({"records": [{k: v for k, v in GOOD.items() if k != "region"}]}, "missing"),
    "extra field": ({"records": [{**GOOD, "bogus": 1.0}]}, "extra_forbidden"),
    "wrong type": ({"records": [{**GOOD, "monthly_charges": "70.5"}]}, "float_type"),
    "NaN": ('{"records": [' + PARTIAL + ', "monthly_charges": NaN}]}', "finite"),
    "inf": ('{"records": [' + PARTIAL + ', "monthly_charges": Infinity}]}', "finite"),
    "empty list": ({"records": []}, "too_short"),
    "oversized batch": ({"records": [GOOD] * 1001}, "too_long"),
    "no records key": ({"rows": [GOOD]}, "missing"),
    "null not allowed": ({"records": [{**GOOD, "monthly_charges": None}]}, "float_type"),
}


def test_bad_requests_get_a_4xx_with_a_reason_and_the_server_stays_up(server):
    for case, (body, reason) in BAD.items():
        data = body if isinstance(body, str) else json.dumps(body)
        response = requests.post(
            f"{server}/predict", data=data, headers={"Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
        assert reason in response.text, (case, response.text)
    assert requests.get(f"{server}/readyz", timeout=5).status_code == 200


def test_schemathesis_finds_no_server_error(server, project):
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{server}/docs.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--workers",
            "1",
            "--generation-deterministic",
        ],
        cwd=project.parent,  # schemathesis keeps its example database in the working directory
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    assert requests.get(f"{server}/readyz", timeout=5).status_code == 200
