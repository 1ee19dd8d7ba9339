"""The BentoML service in-process: a small model in a scratch BentoML store, called over ASGI."""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml
from starlette.responses import JSONResponse
from starlette.testclient import TestClient

from actions_mlops.core.config import ModelParams
from actions_mlops.core.modelfile import save_model
from actions_mlops.data.contract import (
    load_contract,
)
from actions_mlops.training.train import build_model
from conftest import ROOT

CONTRACT = {
    "columns": {
        "size": {"dtype": "float", "max_null_fraction": 0.2, "range": [0, 40]},
        "count": {"dtype": "int", "max_null_fraction": 0, "allowed_values": [0, 1, 2, 3, 4]},
        "colour": {
            "dtype": "str",
            "max_null_fraction": 0.2,
            "pii": True,
            "allowed_values": ["red", "green", "blue"],
        },
        "label": {"dtype": "str", "role": "target"},
        "row_id": {"dtype": "int", "role": "id", "reason": "a row number"},
    }
}
GOOD = {"size": 10.5, "count": 3, "colour": "red"}

# Imported late: importing the service loads the model.
SERVICE = "actions_mlops.serving.service"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(test client, fitted model, records) for a model saved as `<registry.model>:v9.9.9`,
    logging predictions to <tmp>/logs."""
    folder = tmp_path_factory.mktemp("service")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENTOML_HOME", str(folder / "bentoml"))
        patch.setenv("BENTOML_DO_NOT_TRACK", "True")
        patch.setenv("PREDICTION_LOG_DIR", str(folder / "logs"))
        import bentoml

        from actions_mlops.core.config import load_params

        rng = np.random.default_rng(0)
        frame = pd.DataFrame(
            {
                "size": rng.normal(10, 3, 200),
                "count": rng.integers(0, 5, 200).astype(float),
                "colour": rng.choice(["red", "green", "blue"], 200),
            }
        )
        frame["label"] = np.where(frame["size"] + frame["count"] > 12, "high", "low")
        frame.loc[::7, "size"] = np.nan
        (folder / "contract.yaml").write_text(yaml.safe_dump(CONTRACT))
        contract = load_contract(folder / "contract.yaml")
        model = build_model(
            contract, ModelParams(estimator="sklearn.linear_model.LogisticRegression")
        )
        model.fit(frame[contract.features], frame[contract.target])
        name = load_params().registry.model
        labels = {"version": "v9.9.9", "commit": "0" * 40, "task": "classification"}
        with bentoml.models.create(f"{name}:v9.9.9", labels=labels) as stored:
            save_model(model, folder / "model.skops")
            stored_dir = stored.path
            (folder / "model.skops").replace(f"{stored_dir}/model.skops")
            (folder / "contract.yaml").replace(f"{stored_dir}/contract.yaml")
        service = importlib.import_module(SERVICE)
        with TestClient(service.ModelService.to_asgi()) as client:
            yield client, model, frame[contract.features], folder / "logs"
        patch.undo()  # the service keeps its log folder; later tests read it from here


def test_the_log_follows_params_monitor_and_prediction_log_dir_wins(served, tmp_path, monkeypatch):
    """params.yaml `monitor` sets the log's folder and rotation (in a bento: its arguments, from
    `make package`); PREDICTION_LOG_DIR where the service runs wins over the folder."""
    service = importlib.import_module(SERVICE)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["monitor"] |= {"log_dir": "elsewhere/log", "max_bytes": 1234, "keep": 3}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PREDICTION_LOG_DIR", raising=False)
    settings = service.settings()  # from source: params.yaml
    log = service.prediction_log(settings, [])
    assert (log.folder, log.max_bytes, log.keep) == (Path("elsewhere/log"), 1234, 3)
    monkeypatch.setenv("PREDICTION_LOG_DIR", str(tmp_path / "mounted"))
    assert service.prediction_log(settings, []).folder == tmp_path / "mounted"
    monkeypatch.setenv("PREDICTION_LOG", "off")
    assert service.prediction_log(settings, []) is None


def test_importing_the_service_loads_no_model_libraries(served):
    """`bentoml serve` imports the service module to start its server, and the worker imports it
    again: scikit-learn, skops, pandas and scipy (seconds to import) load in the worker only,
    with the model (ModelService.__init__), so the first process starts fast."""
    *_, logs = served
    watched = ["pandas", "scipy", "sklearn", "skops"]
    code = f"import {SERVICE}, sys; print(sorted(set({watched!r}) & set(sys.modules)))"
    root = ROOT
    environment = {"BENTOML_HOME": str(logs.parent / "bentoml"), "PYTHONPATH": str(root / "src")}
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, **environment},
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == "[]"


def post(client: TestClient, body: object):
    return client.post(
        "/predict", content=json.dumps(body), headers={"content-type": "application/json"}
    )


def test_predictions_match_the_model(served):
    client, model, features, _ = served
    rows = features.head(5)
    records = [
        {
            "size": None if np.isnan(r["size"]) else r["size"],
            "count": int(r["count"]),
            "colour": r["colour"],
        }
        for r in rows.to_dict("records")
    ]
    response = post(client, {"records": records})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "v9.9.9"
    assert body["predictions"] == model.predict(rows).tolist()
    first = model.predict_proba(rows)[0]
    assert body["probabilities"][0] == pytest.approx(dict(zip(model.classes_, first, strict=True)))


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({**GOOD, "bogus": 1.0}, "extra_forbidden"),
        ({"size": 1.0, "colour": "red"}, "missing"),
        ({**GOOD, "size": "1.5"}, "float_type"),
        ({**GOOD, "count": 2.5}, "int_type"),
        ({**GOOD, "size": float("nan")}, "finite_number"),
        ({**GOOD, "size": float("inf")}, "finite_number"),
        ({**GOOD, "count": None}, "int_type"),
        ({**GOOD, "count": 2**60}, "less_than_equal"),
    ],
)
def test_bad_records_get_a_400_naming_the_problem(served, record, problem):
    response = post(served[0], {"records": [record]})
    assert response.status_code == 400
    assert problem in {error["type"] for error in response.json()["detail"]}


def test_a_400_names_each_problem_on_its_own_line(served):
    """Issue 26 item 9: the body opened with "4 validation error for PredictRequestIODescriptor";
    a NaN in a text field got "Input should be a valid string"; a whole row of the training
    table got one bare `extra_forbidden` per column it holds beyond the features."""
    row = {**GOOD, "colour": float("nan"), "row_id": 7, "label": "high", "bogus": 1}
    response = post(served[0], {"records": [GOOD, row]})
    assert response.status_code == 400
    body = response.json()
    assert body["error"].splitlines() == [
        "invalid request, 4 problems:",
        "records[1].colour: expected text; send null for a missing value, not NaN",
        "records[1].row_id: the contract's id column, not a feature of the model: leave it out",
        "records[1].label: the contract's target column, not a feature of the model: leave it out",
        "records[1].bogus: not a feature of the model: leave it out (GET /docs.json lists the "
        "features)",
    ]
    assert [p["type"] for p in body["detail"]] == ["string_type", *["extra_forbidden"] * 3]
    assert [p["msg"] for p in body["detail"]] == body["error"].splitlines()[1:]
    nan = post(served[0], {"records": [{**GOOD, "size": float("nan")}]}).json()
    assert nan["error"].endswith("records[0].size: expected a finite number (a JSON number, "
                                 "not text); send null for a missing value, not NaN")  # fmt: skip


def test_missing_values_pass_where_the_contract_allows_them(served):
    response = post(served[0], {"records": [{**GOOD, "size": None, "colour": None}]})
    assert response.status_code == 200, response.text


def test_batch_size_is_bounded(served):
    from actions_mlops.core.config import load_params

    limit = load_params().serve.max_records
    assert post(served[0], {"records": []}).status_code == 400
    assert post(served[0], {"records": [GOOD] * (limit + 1)}).status_code == 400
    assert post(served[0], {"records": [GOOD] * limit}).status_code == 200


def test_only_json_is_accepted(served):
    response = served[0].post("/predict", content=b"size=1", headers={"content-type": "text/plain"})
    assert response.status_code == 415


def test_every_answer_is_logged_under_its_request_id(served):
    from actions_mlops.serving.predictionlog import read_log

    client, _, _, logs = served
    records = [GOOD, {**GOOD, "size": None, "count": 0}]
    response = client.post(
        "/predict",
        content=json.dumps({"records": records}),
        headers={"content-type": "application/json", "x-request-id": "order-42"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == response.json()["request_id"] == "order-42"
    logged = read_log(logs).frame.query("request_id == 'order-42'").sort_values("record")
    assert logged["size"].iloc[0] == 10.5 and np.isnan(logged["size"].iloc[1])
    assert logged["count"].tolist() == [3, 0]
    assert logged["prediction"].tolist() == response.json()["predictions"]
    assert set(logged["model_version"]) == {"v9.9.9"}


def test_out_of_contract_values_are_flagged_per_record_and_logged(served):
    """Outside the contract's range or allowed values: predicted, and flagged in the answer and
    the log, without repeating the value (colour is pii)."""
    from actions_mlops.serving.predictionlog import read_log

    client, _, _, logs = served
    outside = {"size": -5.0, "count": 9, "colour": "crew"}
    response = client.post(
        "/predict",
        content=json.dumps({"records": [GOOD, outside, {**GOOD, "size": None}]}),
        headers={"content-type": "application/json", "x-request-id": "flags-1"},
    )
    assert response.status_code == 200, response.text
    warnings = response.json()["warnings"]
    assert len(response.json()["predictions"]) == 3
    assert warnings[0] == warnings[2] == []
    flags = {w["column"]: w for w in warnings[1]}
    assert {name: w["check"] for name, w in flags.items()} == {
        "size": "range",
        "count": "allowed_values",
        "colour": "allowed_values",
    }
    assert "minimum 0" in flags["size"]["msg"] and "crew" not in json.dumps(warnings)
    assert "0, 1, 2, 3, 4" in flags["count"]["msg"]
    assert "red" not in flags["colour"]["msg"], "a pii column's values are not listed"
    logged = read_log(logs).frame.query("request_id == 'flags-1'").sort_values("record")
    assert logged["warnings"].tolist() == warnings
    spec = client.get("/docs.json").json()
    ok = spec["paths"]["/predict"]["post"]["responses"]["200"]["content"]["application/json"]
    assert "warnings" in ok["schema"]["required"]
    jsonschema.validate(response.json(), {**ok["schema"], "components": spec["components"]})


def test_a_bad_request_id_is_replaced_and_ids_are_unique(served):
    ids = set()
    for _ in range(3):
        response = served[0].post(
            "/predict",
            content=json.dumps({"records": [GOOD]}),
            headers={"content-type": "application/json", "x-request-id": "bad id ; drop"},
        )
        assert response.status_code == 200
        ids.add(response.json()["request_id"])
    assert len(ids) == 3 and not any(" " in i for i in ids)


def test_an_unwritable_log_does_not_fail_the_request(served, capfd):
    client, _, _, logs = served
    kept = logs.with_name("kept")
    logs.mkdir(exist_ok=True)
    logs.rename(kept)
    logs.write_text("a file where the log folder should be")
    try:
        response = post(client, {"records": [GOOD]})
    finally:
        logs.unlink()
        kept.rename(logs)
    assert response.status_code == 200, response.text
    assert "prediction log: not written" in capfd.readouterr().err


def test_integral_numbers_are_integers(served):
    """JSON Schema's integer includes 3.0: the documented schema must accept it."""
    assert post(served[0], {"records": [{**GOOD, "count": 3.0}]}).status_code == 200


def test_pii_columns_are_masked_in_the_log(served):
    from actions_mlops.serving.predictionlog import MASK_TOKEN, read_log

    client, _, _, logs = served
    response = client.post(
        "/predict",
        content=json.dumps({"records": [GOOD, {**GOOD, "colour": None}]}),
        headers={"content-type": "application/json", "x-request-id": "pii-1"},
    )
    assert response.status_code == 200, response.text
    logged = read_log(logs).frame.query("request_id == 'pii-1'").sort_values("record")
    assert logged["colour"].iloc[0] == MASK_TOKEN and pd.isna(logged["colour"].iloc[1])
    assert '"red"' not in logs.joinpath("predictions.jsonl").read_text()


def body_limit() -> int:
    service = importlib.import_module(SERVICE)
    return service.body_limit(service.SETTINGS, service.CONTRACT)


def test_a_body_beyond_the_limit_gets_a_413_naming_it_before_it_is_read(served):
    limit = body_limit()
    padded = b'{"records": [' + json.dumps(GOOD).encode() + b"]" + b" " * limit + b"}"
    sized = served[0].post("/predict", content=padded, headers={"content-type": "application/json"})

    def chunks():  # no Content-Length: counted as it arrives
        for start in range(0, len(padded), 65536):
            yield padded[start : start + 65536]

    chunked = served[0].post(
        "/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in chunked.request.headers
    for response in (sized, chunked):
        assert response.status_code == 413, response.text
        assert str(limit) in response.json()["error"]
        assert response.json()["detail"][0]["limit"] == limit
    within = json.dumps({"records": [GOOD] * 10}).encode()
    assert len(within) < limit
    assert post(served[0], {"records": [GOOD] * 10}).status_code == 200


def test_an_api_key_guards_all_but_probes_and_docs(served):
    service = importlib.import_module(SERVICE)
    guarded = TestClient(service.ApiKey(JSONResponse({"ok": True}), key="s3cret"))
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
        response = guarded.post("/predict", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "API key" in response.json()["error"]
    assert guarded.post("/predict", headers={"authorization": "Bearer s3cret"}).status_code == 200
    for path in ("/healthz", "/livez", "/readyz", "/metrics", "/docs.json"):
        assert guarded.get(path).status_code == 200, path
    open_service = TestClient(service.ApiKey(JSONResponse({"ok": True}), key=None))
    assert open_service.post("/predict").status_code == 200


def test_every_error_answers_in_the_documented_shape(served):
    client = served[0]
    spec = client.get("/docs.json").json()
    responses = spec["paths"]["/predict"]["post"]["responses"]
    error_schema = {"$ref": "#/components/schemas/ErrorResponse", "components": spec["components"]}
    for status in ("400", "413", "415", "500"):
        declared = responses[status]["content"]["application/json"]["schema"]
        assert declared == {"$ref": "#/components/schemas/ErrorResponse"}, status
    assert spec["components"]["schemas"]["ErrorResponse"]["properties"]["detail"]["type"] == "array"
    json_type = {"content-type": "application/json"}
    answers = {
        "bad record": post(client, {"records": [{**GOOD, "bogus": 1}]}),
        "1e300": client.post(
            "/predict",
            content=json.dumps({"records": [GOOD]}).replace("10.5", "1e300"),
            headers=json_type,
        ),
        "not JSON": client.post("/predict", content=b'{"records": [', headers=json_type),
        "media type": client.post("/predict", content=b"x", headers={"content-type": "text/plain"}),
        "too large": client.post("/predict", content=b" " * (body_limit() + 1), headers=json_type),
    }
    for case, response in answers.items():
        assert str(response.status_code) in responses, (case, response.status_code)
        jsonschema.validate(response.json(), error_schema)
        assert isinstance(response.json()["detail"], list), case
    assert answers["1e300"].json()["detail"][0]["loc"] == ["records", 0, "size"]


def test_a_client_error_is_one_info_line_without_traceback(served, caplog):
    with caplog.at_level(logging.INFO):
        assert post(served[0], {"records": [{**GOOD, "bogus": 1}]}).status_code == 400
    lines = [r for r in caplog.records if "/predict [POST]" in r.getMessage()]
    assert lines and all(r.levelno == logging.INFO and not r.exc_info for r in lines)


@pytest.mark.parametrize(
    ("host", "environment", "refused"),
    [
        ("127.0.0.1", {}, False),
        ("::1", {}, False),
        ("localhost", {}, False),
        ("0.0.0.0", {}, True),
        ("my-host.example", {}, True),
        ("0.0.0.0", {"API_KEY": "k"}, False),
        ("0.0.0.0", {"ALLOW_NO_API_KEY": "1"}, False),
    ],
)
def test_serve_refuses_an_open_service_beyond_loopback(monkeypatch, host, environment, refused):
    from actions_mlops.release.serve import open_refusal

    for name in ("API_KEY", "ALLOW_NO_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert (open_refusal(host) is not None) is refused


@pytest.mark.parametrize("given", ["", "elsewhere/log"])
def test_make_serve_puts_the_log_in_the_project_whatever_the_servers_folder(monkeypatch, given):
    """The bento runs in its own folder of the BentoML store: `serve` hands it the log folder as
    an absolute path in this project (params monitor.log_dir, or a relative PREDICTION_LOG_DIR)."""
    import argparse
    import os
    from pathlib import Path
    from types import SimpleNamespace

    from actions_mlops.core.config import load_params
    from actions_mlops.release import serve

    monkeypatch.setenv("PREDICTION_LOG_DIR", given)
    monkeypatch.setattr(serve, "package", lambda: SimpleNamespace(tag="model:v1.0.0"))
    started = []
    monkeypatch.setattr(serve.os, "execv", lambda *command: started.append(command))
    assert serve.main(argparse.Namespace(host="127.0.0.1", port=3000)) == 0
    assert started, "bentoml serve was not started"
    expected = Path.cwd() / (given or load_params().monitor.log_dir)
    assert os.environ["PREDICTION_LOG_DIR"] == str(expected.resolve())
