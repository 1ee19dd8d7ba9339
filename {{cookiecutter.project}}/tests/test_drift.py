"""Drift: the detector's measured quality (false alarms, detection), and its reports."""

import json
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.package }} import drift
from {{ cookiecutter.package }}.contract import (
    load_contract,
)
from {{ cookiecutter.package }}.infer import (
    infer_contract,
)
from {{ cookiecutter.package }}.reference import (
    build_profile,
    write_reference_profile,
)

PARAMS = drift.DriftParams()
RUNS = 60  # batches per kind: about 2 s per data set


def drifted(report: dict) -> set[str]:
    return {row["column"] for row in report["columns"] if row["drifted"]}


def column(report: dict, name: str) -> dict:
    return next(row for row in report["columns"] if row["column"] == name)


@pytest.mark.parametrize("name", ["project", "messy"])
def test_false_alarms_at_most_5_percent_and_detection_at_least_95(
    project_frame, params, messy, name
):
    """Resamples of the reference data must not drift; a 0.5-sd shift of one numeric column
    must be found."""
    if name == "project":
        frame, contract = project_frame(), load_contract()
    else:
        frame, _ = messy(params.task, rows=2000)
        contract = infer_contract(frame, "label", params.task)
    profile = build_profile(frame, contract)
    kinds = {name: column["kind"] for name, column in profile["columns"].items()}
    shifted = next(n for n in contract.features if kinds.get(n) == "numeric")
    rng = np.random.default_rng(0)
    alarms, found = 0, 0
    for _ in range(RUNS):
        batch = frame.sample(500, replace=True, random_state=int(rng.integers(1e9)))
        alarms += bool(drifted(drift.compare(batch, profile, PARAMS)))
        batch = frame.sample(500, replace=True, random_state=int(rng.integers(1e9)))
        batch[shifted] = batch[shifted] + 0.5 * frame[shifted].std()
        found += shifted in drifted(drift.compare(batch, profile, PARAMS))
    print(f"\n{name}: false alarms {alarms / RUNS:.1%}, {shifted!r} found in {found / RUNS:.1%}")
    assert alarms / RUNS <= 0.05
    assert found / RUNS >= 0.95


def test_noise_in_small_batches_is_not_drift(params, messy):
    """Size alone flags noise at 100 rows (what a fixed distance threshold does); size and test
    together do not."""
    reference, _ = messy(params.task, rows=2000, seed=1)
    contract = infer_contract(reference, "label", params.task)
    profile = build_profile(reference, contract)
    size_alone = alarms = 0
    for seed in range(2, 2 + RUNS):
        batch, _ = messy(params.task, rows=100, seed=seed)
        report = drift.compare(batch, profile, PARAMS)
        size_alone += any(row["size"] >= row["threshold"] for row in report["columns"])
        alarms += bool(drifted(report))
    print(f"\n100-row batches: size alone {size_alone / RUNS:.0%}, drift {alarms / RUNS:.0%}")
    assert alarms / RUNS <= 0.05 < size_alone / RUNS


def test_a_negligible_shift_in_a_huge_batch_is_significant_but_not_drift(params, messy):
    reference, _ = messy(params.task, rows=20_000, seed=1)
    profile = build_profile(reference, infer_contract(reference, "label", params.task))
    batch, _ = messy(params.task, rows=100_000, seed=2)
    batch["size"] += 0.03 * reference["size"].std()
    row = column(drift.compare(batch, profile, PARAMS), "size")
    assert row["p_adjusted"] < 0.05 and row["size"] < PARAMS.numeric_threshold
    assert not row["drifted"]


def test_categorical_drift_names_the_category_that_moved(params, messy):
    reference, _ = messy(params.task, rows=2000, seed=1)
    profile = build_profile(reference, infer_contract(reference, "label", params.task))
    batch, _ = messy(params.task, rows=1000, seed=2)
    batch.loc[batch["colour"] == "red", "colour"] = "blue"
    row = column(drift.compare(batch, profile, PARAMS), "colour")
    assert row["drifted"] and row["kind"] == "categorical"
    assert row["detail"].startswith(("'red'", "'blue'"))


def test_the_verdict_weighs_drifting_features_by_importance(params, messy):
    reference, _ = messy(params.task, rows=2000, seed=1)
    contract = infer_contract(reference, "label", params.task)
    batch, _ = messy(params.task, rows=1000, seed=2)
    batch["size"] += reference["size"].std()
    importance = [{"feature": "size", "importance": 0.05}, {"feature": "colour", "importance": 1}]
    report = drift.compare(batch, build_profile(reference, contract, importance), PARAMS)
    assert "size" in drifted(report) and report["verdict"] == "ok"
    importance = [{"feature": "size", "importance": 1}, {"feature": "colour", "importance": 0.05}]
    report = drift.compare(batch, build_profile(reference, contract, importance), PARAMS)
    assert report["verdict"] == "fail"
    assert report["weighted_drift"] == pytest.approx(1 / 1.05, abs=1e-3)


def test_the_command_writes_reports_and_fails_only_when_strict(project_frame, params):
    frame, contract = project_frame(), load_contract()
    args = Namespace(batch=None, profile=Path("reports/reference_profile.json"), strict=True)
    assert drift.main(args) == 0
    assert json.loads(Path("reports/drift.json").read_text())["verdict"] == "skipped"
    write_reference_profile(data=params.data.raw, contract=contract)
    numeric = [n for n in contract.numeric_features if frame[n].nunique() > 20]
    frame[numeric] = frame[numeric] + 3 * frame[numeric].std()
    frame.to_csv("batch.csv", index=False)
    args.batch = Path("batch.csv")
    assert drift.main(args) == 1
    args.strict = False
    assert drift.main(args) == 0
    report = json.loads(Path("reports/drift.json").read_text())
    assert report["verdict"] == "fail" and drifted(report) >= set(numeric)
    text = Path("reports/drift.md").read_text(encoding="utf-8")
    assert text.startswith("### Data drift: ❌ fail") and len(text.encode()) < 10_000
