import json

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package }}.monitor import (
    EXIT_CODES,
    assess,
    markdown,
)
from {{ cookiecutter.package }}.predictionlog import (
    PredictionLog,
    read_log,
)
from {{ cookiecutter.package }}.reference import build_profile


@pytest.fixture
def reference(params, messy):
    """A reference profile of a messy training set where both features matter equally."""
    frame, contract = messy(params.task, rows=2000, seed=1)
    importance = [{"feature": f, "importance": 1.0} for f in contract.features]
    return frame, contract, build_profile(frame, contract, importance)


def test_a_batch_from_the_training_data_raises_no_alarm(params, reference):
    frame, contract, profile = reference
    batch = frame.sample(500, random_state=3)
    report = assess(batch, profile, params, contract)
    assert report["verdict"] == "ok", report["drift"]["columns"]


def test_a_shifted_feature_raises_an_alarm_naming_it(params, reference):
    frame, contract, profile = reference
    batch = frame.sample(500, random_state=4).copy()
    batch["size"] = batch["size"] + 2 * frame["size"].std()
    report = assess(batch, profile, params, contract)
    assert report["verdict"] == "alarm"
    assert [c["column"] for c in report["drift"]["columns"] if c["drifted"]] == ["size"]
    text = markdown(report | {"batch": "b", "reference": "r"})
    assert "ALARM" in text and "`size`" in text
    assert EXIT_CODES[report["verdict"]] == 3


def test_labels_joined_by_request_id_measure_performance(params, reference, tmp_path):
    frame, contract, profile = reference
    log = PredictionLog(tmp_path / "log")
    batch = frame.dropna().head(200).reset_index(drop=True)
    truth = batch[contract.target].tolist()
    wrong = truth[::-1]  # a model that is mostly wrong
    records = batch[contract.features].to_dict("records")
    for start in range(0, 200, 50):
        log.write(f"r{start}", "v0.1.0", records[start : start + 50], wrong[start : start + 50])
    logged = read_log(tmp_path / "log")
    assert len(logged) == 200 and set(contract.features) <= set(logged.columns)
    labels = pd.DataFrame(
        {"request_id": logged["request_id"], "record": logged["record"], contract.target: truth}
    )
    good = {"metrics": {"accuracy": {"value": 0.99}, "r2": {"value": 0.99}}}
    report = assess(logged, profile, params, contract, labels, good)
    assert report["performance"]["labelled_rows"] == 200
    assert report["verdict"] == "alarm"
    assert any(check["alarm"] for check in report["performance"]["checks"])


def test_log_rotates_by_size_and_an_unwritable_sink_does_not_raise(tmp_path, capsys):
    log = PredictionLog(tmp_path / "log", max_bytes=200, keep=2)
    for i in range(6):
        assert log.write(f"r{i}", "v1", [{"x": float(i)}], [i])
    files = sorted((tmp_path / "log").glob("*.jsonl"))
    assert len(files) == 3  # the current file and the two newest rotated ones
    assert (
        sorted(
            json.loads(line)["request_id"] for f in files for line in f.read_text().splitlines()
        )[-1]
        == "r5"
    )
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    assert PredictionLog(blocked).write("r", "v1", [{"x": np.float64(1.0)}], [1]) is False
    assert "prediction log: not written" in capsys.readouterr().err
