"""`make adopt`: a table and a target make a project whose settings all pass `make check-config`,
with thresholds derived from the data; bad input is one line and leaves every file as it was."""

import shutil
from argparse import Namespace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from actions_mlops import adopt, cli
from actions_mlops.checks import check_all
from actions_mlops.core.config import load_params
from actions_mlops.data.contract import (
    Contract,
    dump_contract,
    load_contract,
)
from conftest import ROOT

SETTINGS = ("params.yaml", "contract.yaml", "dvc.yaml")


@pytest.fixture
def table(workdir, messy, tmp_path_factory):
    """A messy table outside the project, with a row id, written as CSV; returns its path."""

    def write(task: str, rows: int = 800) -> Path:
        frame, _ = messy(task, rows=rows)
        frame.insert(0, "row_id", np.arange(rows))
        path = tmp_path_factory.mktemp("outside") / f"{task}.csv"
        frame.to_csv(path, index=False)
        return path

    shutil.copy(ROOT / "bentofile.yaml", workdir / "bentofile.yaml")
    return write


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_adopting_a_table_sets_everything_from_the_data(table, task, capsys):
    path = table(task)
    assert adopt.main(Namespace(data=path, target="label", task=None)) == 0
    review = capsys.readouterr().out
    assert check_all() == []
    params, contract = load_params(), load_contract()
    assert params.task == task and params.data.raw == Path("data/raw") / path.name
    assert Path(params.data.raw).read_bytes() == path.read_bytes()
    assert params.data.source is None and "ingest" not in Path("dvc.yaml").read_text()
    assert contract.target == "label" and contract.columns["row_id"].role == "id"
    assert params.evaluate.slices == ["colour"]  # 3 values, each >= 30 expected test rows
    if task == "regression":  # in the target's units: its spread, and a share of it
        spread = pd.read_csv(path)["label"].std()
        rmse = params.gate.metrics["rmse"]
        assert rmse.ceiling == pytest.approx(spread, rel=1e-3)
        assert rmse.margin == pytest.approx(params.gate.metrics["r2"].margin * spread, rel=1e-2)
    else:
        assert params.gate.metrics["log_loss"].ceiling == pytest.approx(np.log(2), abs=0.01)
    for phrase in (f"task: {task}", "left out row_id as id", "Confirm", "Next: make repro gate"):
        assert phrase in review
    assert "# Every knob of the pipeline" in Path("params.yaml").read_text()  # comments kept


def test_adopting_again_keeps_the_reviewed_rules(table):
    path = table("classification")
    adopt.main(Namespace(data=path, target="label", task=None))
    contract = load_contract()
    reviewed = contract.columns["size"].model_copy(update=dict(severity="error", inferred=False))
    edited = Contract(columns=contract.columns | {"size": reviewed}, table=contract.table)
    Path("contract.yaml").write_text(dump_contract(edited), encoding="utf-8")
    adopt.main(Namespace(data=path, target="label", task=None))
    assert load_contract().columns["size"] == reviewed
    assert load_contract().columns["colour"].inferred


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "nope"], "no column 'nope' (TARGET); the table has: row_id, size"),
        (["--target", "colour", "--task", "regression"], "'colour' holds text"),
        (["--data", "missing.csv", "--target", "label"], "missing.csv: no such file"),
        (["--data", "table.txt", "--target", "label"], "must be a .csv or .parquet file"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(table, capsys, args, message):
    path = table("classification")
    Path("table.txt").write_text("a,b\n", encoding="utf-8")
    before = {name: Path(name).read_text(encoding="utf-8") for name in SETTINGS}
    if "--data" not in args:
        args = ["--data", str(path), *args]
    assert cli.main(["adopt", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert {name: Path(name).read_text(encoding="utf-8") for name in SETTINGS} == before
    assert not Path("data/raw", path.name).exists()


def test_the_settings_are_checked_before_anything_is_written(table, monkeypatch, capsys):
    path = table("regression")
    before = {name: Path(name).read_text(encoding="utf-8") for name in SETTINGS}
    monkeypatch.setitem(adopt.METRICS, "regression", (["rmse", "mape"], "rmse"))
    assert cli.main(["adopt", "--data", str(path), "--target", "label"]) == 2
    assert "evaluate.metrics[1]: mape" in capsys.readouterr().err
    assert {name: Path(name).read_text(encoding="utf-8") for name in SETTINGS} == before
    assert yaml.safe_load(before["params.yaml"]) == yaml.safe_load(Path("params.yaml").read_text())


def test_a_multiclass_target_with_a_tiny_class_is_gated_on_the_weighted_auc(
    workdir, tmp_path_factory, capsys
):
    """The issue's 8-class table: a better model was NOT_BLESSED because the macro roc_auc fell
    through a class of 3 test rows. With a class of fewer expected test rows than
    gate.slices.min_rows, adopt makes roc_auc_weighted the primary and compared metric, keeps
    roc_auc with its floor, and says why in the review; with no tiny class, nothing changes."""
    shutil.copy(ROOT / "bentofile.yaml", workdir / "bentofile.yaml")
    rng = np.random.default_rng(0)
    rows = 1000
    label = rng.choice(["sun", "rain", "fog", "snow"], rows, p=[0.5, 0.35, 0.13, 0.02])
    size = rng.normal(0, 1, rows) + (label == "rain") * 2 + (label == "snow") * 4
    path = tmp_path_factory.mktemp("outside") / "weather.csv"
    pd.DataFrame({"size": size, "wind": rng.normal(0, 1, rows), "weather": label}).to_csv(
        path, index=False
    )
    assert adopt.main(Namespace(data=path, target="weather", task=None)) == 0
    review = capsys.readouterr().out
    assert check_all() == []
    params = load_params()
    assert params.evaluate.primary == "roc_auc_weighted"
    assert params.evaluate.metrics[:2] == ["roc_auc_weighted", "roc_auc"]
    weighted, macro = params.gate.metrics["roc_auc_weighted"], params.gate.metrics["roc_auc"]
    assert weighted.compare == "non_inferior" and weighted.floor == 0.6
    assert macro.compare is None and macro.floor == 0.6
    expected = (label == "snow").mean() * round(rows * params.split.test_size)
    assert (
        f"primary roc_auc_weighted, not roc_auc: class 'snow' has ~{expected:.0f} expected test "
        "rows (< 30, gate.slices.min_rows)"
    ) in review
    common = rng.choice(["sun", "rain", "fog"], rows, p=[0.4, 0.35, 0.25])
    common = pd.DataFrame({"size": size + (common == "rain") * 2, "weather": common})
    path = path.with_name("common.csv")  # three classes, the rarest ~50 test rows: as before
    common.to_csv(path, index=False)
    assert adopt.main(Namespace(data=path, target="weather", task=None)) == 0
    assert "roc_auc_weighted" not in capsys.readouterr().out
    params = load_params()
    assert params.evaluate.primary == "roc_auc" and "roc_auc_weighted" not in params.gate.metrics
