"""`make adopt` on real tables no one here wrote: a baked project (dataset=csv) adopts each, runs
its pipeline and gate, and must end BLESSED by adoption's own thresholds, with no leak column
among the features and metrics above a trivial model's.

The corpus is what ships offline in the environment: scikit-learn's bundled tables (statsmodels,
vega_datasets or palmerpenguins would add real dates, free text and missing values; none is
installed). Each table keeps its real values; what a user's export often adds is added the way
it arrives: the target as text, a row id in a file sorted by the target, a collection date in
the same order, a coded copy of the target, money in large units.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import bake, make, run
from sklearn import datasets

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Table:
    """A corpus table, its target and what adoption must leave out of the model."""

    name: str
    target: str
    task: str
    left_out: dict[str, str]  # column -> role (id or ignored)
    review: tuple[str, ...]  # phrases the printed review must contain


def iris() -> pd.DataFrame:
    """Multi-class, the target as text, and a coded copy of it (a near-copy of the target)."""
    bunch = datasets.load_iris(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["species_code"] = bunch.target
    frame["species"] = bunch.target_names[bunch.target]
    return frame


def breast_cancer() -> pd.DataFrame:
    """Binary, the target as text, an integer row id in a file sorted by the target."""
    bunch = datasets.load_breast_cancer(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["diagnosis"] = bunch.target_names[bunch.target]
    frame = frame.sort_values("diagnosis", kind="stable").reset_index(drop=True)
    frame.insert(0, "patient_id", np.arange(1, len(frame) + 1))
    return frame


def wine() -> pd.DataFrame:
    """Three classes as whole numbers, and the date each row was received, in the file's order
    (sorted by the target, as an export by batch would be)."""
    frame = datasets.load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame = frame.sort_values("cultivar", kind="stable").reset_index(drop=True)
    days = pd.date_range("2024-01-01", periods=len(frame), freq="D")
    frame.insert(0, "received", days.strftime("%Y-%m-%d"))
    return frame


def diabetes() -> pd.DataFrame:
    """Regression on the raw (unscaled) measurements, the target as a cost in large units."""
    frame = datasets.load_diabetes(as_frame=True, scaled=False).frame
    frame["cost"] = frame.pop("target") * 1000.0
    return frame


TABLES = {
    iris: Table(
        "iris",
        "species",
        "classification",
        {"species_code": "ignored"},
        ("task: classification (3 classes)", "left out species_code as ignored: a near-copy"),
    ),
    breast_cancer: Table(
        "breast_cancer",
        "diagnosis",
        "classification",
        {"patient_id": "id"},
        ("task: classification (binary)", "left out patient_id as id"),
    ),
    wine: Table(
        "wine",
        "cultivar",
        "classification",
        {"received": "ignored"},
        ("task: classification (3 classes)", "left out received as ignored: dates or times"),
    ),
    diabetes: Table(
        "diabetes",
        "cost",
        "regression",
        {},
        ("task: regression", "model: sklearn.linear_model.Ridge and its sweep grid", "rmse margin"),
    ),
}


def beats_trivial(metrics: dict, frame: pd.DataFrame, table: Table) -> None:
    """The model's test metrics against a model that ignores the features."""
    value = {name: entry["value"] for name, entry in metrics.items()}
    if table.task == "classification":
        classes = frame[table.target].nunique()
        assert value["roc_auc"] > 0.5 + 0.2 and value["balanced_accuracy"] > 1 / classes + 0.2
    else:
        assert value["r2"] > 0.2 and value["rmse"] < frame[table.target].std()


@pytest.mark.parametrize("load", list(TABLES), ids=lambda load: TABLES[load].name)
def test_adopted_table_is_blessed_without_leaks(load, tmp_path, project_env):
    table = TABLES[load]
    data = tmp_path / f"{table.name}.csv"
    frame = load()
    frame.to_csv(data, index=False)
    project = bake(tmp_path / "bake", dataset="csv", init_git="no")
    adopted = make(project, "adopt", project_env, env={"DATA": str(data), "TARGET": table.target})
    review = adopted.stdout
    for phrase in (*table.review, "Confirm before", "Next: make repro gate"):
        assert phrase in review, review
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["task"] == table.task and params["data"]["raw"] == f"data/raw/{data.name}"
    contract = yaml.safe_load((project / "contract.yaml").read_text())["columns"]
    assert contract[table.target]["role"] == "target"
    for column, role in table.left_out.items():
        assert contract[column]["role"] == role and contract[column]["reason"], contract[column]
    assert "contract_type" not in json.dumps(params)  # the example's slice is gone

    for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"]):
        run(command, project)
    run(["git", "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "adopt"], project)
    make(project, "repro", project_env)
    gated = make(project, "gate", project_env, check=False)
    gate = json.loads((project / "reports" / "gate.json").read_text())
    assert gate["verdict"] == "BLESSED", gated.stdout + gated.stderr
    names = {check["name"] for check in gate["checks"]}
    assert names >= {f"{metric} {kind}" for metric, rule in params["gate"]["metrics"].items()
                     for kind in ("floor", "ceiling") if kind in rule}  # fmt: skip
    assert "no single-feature leak" in names
    metrics = json.loads((project / "reports" / "metrics.json").read_text())["metrics"]
    beats_trivial(metrics, frame, table)
    importance = json.loads((project / "reports" / "importance.json").read_text())
    assert not {entry["feature"] for entry in importance} & set(table.left_out)
