import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from actions_mlops.core.config import (
    VALIDATION_REPORT,
    AcceptDrop,
    GateParams,
    MetricRule,
    SliceRules,
)
from actions_mlops.release import gate as gate_module
from actions_mlops.release.champion import Champion, find_champion
from actions_mlops.release.gate import (
    bound_checks,
    leak_check,
    paired_comparison,
    run_gate,
    slice_checks,
)
from actions_mlops.release.versions import versions
from actions_mlops.training.metrics import (
    Predictions,
    bootstrap_weights,
)


def test_floor_and_ceiling():
    rule = MetricRule(floor=0.8, ceiling=0.9)
    passed = bound_checks("accuracy", rule, 0.85, (0.8, 0.9))
    assert [c.passed for c in passed] == [True, True]
    failed = bound_checks("accuracy", rule, 0.7, (0.6, 0.8))
    assert not failed[0].passed and "accuracy 0.7000 < floor 0.8" in failed[0].reason


def test_a_metric_that_is_not_a_number_fails_closed():
    (check,) = bound_checks("r2", MetricRule(floor=0.1), float("nan"), (0.0, 0.0))
    assert not check.passed and "could not be computed" in check.reason


def test_identical_models_are_non_inferior_but_not_superior():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=300)
    same = Predictions(truth, truth + rng.normal(0, 0.5, 300))
    weights = bootstrap_weights(300, 500, seed=0)
    rule = MetricRule(compare="non_inferior", margin=0.01)
    check = paired_comparison("rmse", rule, same, same, weights, 0.95)
    assert check.passed and check.difference == 0 and check.difference_interval == (0.0, 0.0)
    superior = paired_comparison("rmse", MetricRule(compare="superior"), same, same, weights, 0.95)
    assert not superior.passed


def test_slices_missing_fail_closed_and_small_ones_are_not_gated():
    rules = SliceRules(min_rows=30, floors={"accuracy": 0.7})
    from actions_mlops.core.config import GateParams

    params = GateParams(metrics={}, slices=rules)
    slices = {
        "colour": [
            {"value": "red", "rows": 10, "accuracy": 0.1},
            {"value": "blue", "rows": 50, "accuracy": 0.6},
        ]
    }
    checks = slice_checks(slices, ["colour", "size"], params)
    outcome = {c.name: c.passed for c in checks}
    assert outcome == {
        "slice colour=red accuracy": True,
        "slice colour=blue accuracy": False,
        "slice size": False,
    }


# A regression model's predictions (no class probabilities) scored with classification metrics.
WITHOUT_PROBABILITIES = """
import numpy as np
from actions_mlops.training import metrics

predictions = metrics.Predictions(np.array([1.0, 2.0]), np.array([1.5, 2.5]))
for name in ("roc_auc", "log_loss"):
    try:
        metrics.score(name, predictions)
    except ValueError as error:  # what the gate turns into a failed check
        print(error)
"""


def test_a_metric_without_probabilities_is_a_value_error_even_without_asserts(workdir):
    """The gate reports a metric that cannot be computed as a failed check; that must not rest
    on `assert`, which `python -O` removes."""
    result = subprocess.run(
        [sys.executable, "-O", "-c", WITHOUT_PROBABILITIES], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "roc_auc needs class probabilities (a classification model's)",
        "log_loss needs class probabilities (a classification model's)",
    ]


def test_champion_is_the_stage_assignment_else_the_latest_version(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def git(*args):
        subprocess.run(["git", *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "one")
    git("-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a", "m@v0.1.0", "-m", "v0.1.0")
    first = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "two")
    git("-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a", "m@v0.2.0", "-m", "v0.2.0")
    git("tag", "m@v0.10.0-rc", "HEAD")  # not a version: ignored
    assert [v.version for v in versions("m")] == ["v0.2.0", "v0.1.0"]  # highest first
    latest = find_champion("m", "prod")
    assert latest is not None and latest.version == "v0.2.0"
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "tag",
        "-a",
        "m#prod#1",
        first.strip(),
        "-m",
        "p",
    )
    champion = find_champion("m", "prod")
    assert champion is not None
    assert (champion.version, champion.stage, champion.tag) == ("v0.1.0", "prod", "m@v0.1.0")
    assert find_champion("other", "prod") is None


def quality_data(task: str):
    """A 2,000-row training set and a 500-row test set."""
    if task == "classification":
        x, y = make_classification(3000, n_features=12, n_informative=6, random_state=0)
    else:
        x, y = make_regression(3000, n_features=12, n_informative=6, noise=60, random_state=0)
    return x[:2000], y[:2000], x[2500:], y[2500:]


def predictions(task, model, x, y):
    if task == "classification":
        proba = model.predict_proba(x)
        return Predictions(y, proba.argmax(axis=1), proba)
    return Predictions(y.astype(float), model.predict(x))


@pytest.mark.parametrize("runs", [40])
def test_gate_quality_false_blocks_and_detection(params, runs):
    """Equivalent candidates (same recipe, other seeds) must pass; clearly worse ones must not."""
    task = params.task
    metric, rule = next((m, r) for m, r in params.gate.metrics.items() if r.compare)
    forest = RandomForestClassifier if task == "classification" else RandomForestRegressor
    x_train, y_train, x_test, y_test = quality_data(task)

    def fit(seed, **kwargs):
        model = forest(n_estimators=30, random_state=seed, n_jobs=1, **kwargs)
        return predictions(task, model.fit(x_train, y_train), x_test, y_test)

    champion = fit(0)
    weights = bootstrap_weights(len(y_test), params.gate.resamples, params.gate.seed)
    outcomes: dict[str, list[tuple[bool, bool]]] = {"equivalent": [], "degraded": []}
    for seed in range(1, runs + 1):
        for kind, candidate in (("equivalent", fit(seed)), ("degraded", fit(seed, max_depth=2))):
            check = paired_comparison(metric, rule, candidate, champion, weights, 0.95)
            assert check.difference is not None
            naive = check.difference >= 0  # "candidate >= champion" on one number
            outcomes[kind].append((check.passed, naive))
    equivalent, degraded = np.array(outcomes["equivalent"]), np.array(outcomes["degraded"])
    false_block, naive_false_block = 1 - equivalent.mean(axis=0)
    detection, naive_detection = 1 - degraded.mean(axis=0)
    print(
        f"\n{metric} margin {rule.margin}: false blocks {false_block:.1%} "
        f"(naive {naive_false_block:.1%}), detection {detection:.1%} (naive {naive_detection:.1%})"
    )
    assert false_block <= 0.05
    assert detection >= 0.95


def test_a_single_feature_leak_is_refused_unless_allowed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not leak_check(allow=False).passed  # no validation report: fails closed
    VALIDATION_REPORT.parent.mkdir()
    finding = {"check": "single_feature_leak", "column": "row_id"}
    VALIDATION_REPORT.write_text(json.dumps({"findings": [finding]}), encoding="utf-8")
    refused, allowed = leak_check(allow=False), leak_check(allow=True)
    assert not refused.passed and "row_id" in refused.reason and "allow_leaks" in refused.reason
    assert allowed.passed and "allowed by gate.allow_leaks: row_id" in allowed.reason
    VALIDATION_REPORT.write_text(json.dumps({"findings": []}), encoding="utf-8")
    assert leak_check(allow=False).passed


def write_findings(*findings: dict) -> None:
    VALIDATION_REPORT.parent.mkdir(exist_ok=True)
    VALIDATION_REPORT.write_text(json.dumps({"findings": list(findings)}), encoding="utf-8")


def test_a_near_leak_is_refused_until_its_column_is_acknowledged(tmp_path, monkeypatch):
    """The issue's `expenditure` (0.9892) and `share` (0.972): below the leak threshold, the
    gate printed `PASS no single-feature leak`. A near-leak now blocks the gate, named with its
    score, until params.yaml gate.acknowledged_leaks names its column."""
    monkeypatch.chdir(tmp_path)
    near = {
        "check": "single_feature_near_leak",
        "column": "share",
        "observed": "balanced accuracy 0.9720",
    }
    leak = {"check": "single_feature_leak", "column": "expenditure", "observed": "R² 0.9950"}
    write_findings(near)
    refused = leak_check(allow=False)
    assert not refused.passed
    assert "share (near-leak, balanced accuracy 0.9720)" in refused.reason
    assert "gate.acknowledged_leaks: [share]" in refused.reason
    assert not leak_check(allow=False, acknowledged=["other"]).passed
    blessed = leak_check(allow=False, acknowledged=["share"])
    assert blessed.passed
    assert blessed.reason == (
        "allowed by gate.acknowledged_leaks: share (near-leak, balanced accuracy 0.9720)"
    )
    write_findings(near, leak)  # each column needs its own acknowledgement
    partly = leak_check(allow=False, acknowledged=["share"])
    assert not partly.passed and "expenditure (leak, R² 0.9950)" in partly.reason
    assert "share" not in partly.reason.split(":")[0]
    assert leak_check(allow=False, acknowledged=["share", "expenditure"]).passed
    assert leak_check(allow=True).passed


class Model:
    """A stand-in model: the gate's `predict` below returns its predictions."""

    def __init__(self, predictions: Predictions) -> None:
        self.predictions = predictions


def planned_drop(
    params, tmp_path, monkeypatch, accept_drop: AcceptDrop | None, champion_version="v1.0.0"
):
    """run_gate on a regression candidate whose rmse is clearly worse than the champion's (the
    leak removed), with gate params `accept_drop`."""
    monkeypatch.chdir(tmp_path)
    write_findings()
    rng = np.random.default_rng(0)
    truth = rng.normal(0, 10, 400)
    champion = Predictions(truth, truth + rng.normal(0, 1, 400))
    candidate = Predictions(truth, truth + rng.normal(0, 4, 400))
    models = {"model.skops": Model(candidate), "champion.skops": Model(champion)}
    monkeypatch.setattr(gate_module, "load_model", lambda path: models[Path(path).name])
    monkeypatch.setattr(gate_module, "predict", lambda model, *args: model.predictions)
    monkeypatch.setattr(gate_module, "fetch_model", lambda champion, path: ("dvc", ""))
    monkeypatch.setattr(gate_module, "recorded_metrics", lambda champion: {})
    rules = GateParams(
        metrics={"rmse": MetricRule(ceiling=10.0, compare="non_inferior", margin=0.1)},
        resamples=500,
        accept_drop=accept_drop,
    )
    settings = params.model_copy(
        update=dict(
            task="regression",
            gate=rules,
            evaluate=params.evaluate.model_copy(update=dict(slices=[])),
        )
    )
    holder = Champion("m", champion_version, "0123456789abcdef")
    return run_gate(settings, None, pd.DataFrame({"y": truth}), holder, tmp_path)


def test_a_planned_drop_is_accepted_against_its_champion_only(params, tmp_path, monkeypatch):
    """The issue: removing a leak drops the metric; the gate refused it and no documented way
    existed to accept a reviewed drop. gate.accept_drop widens the named metric's comparison to
    the accepted drop against the champion it names, is recorded in gate.json, and fails once
    another version is the champion (it covered one change)."""
    refused = planned_drop(params, tmp_path, monkeypatch, None)
    assert not refused["blessed"] and refused["accepted_drop"] is None
    accepted = AcceptDrop(
        reason="drop the leaky column (#12)", champion="v1.0.0", metrics={"rmse": 5.0}
    )
    blessed = planned_drop(params, tmp_path, monkeypatch, accepted)
    checks = {c["name"]: c for c in blessed["checks"]}
    assert blessed["blessed"], blessed["checks"]
    assert checks["rmse vs champion"]["reason"].startswith(
        "accepted drop up to 5 (gate.accept_drop)"
    )
    assert checks["accepted metric drop"]["reason"] == (
        "against m@v1.0.0: rmse up to 5 — drop the leaky column (#12)"
    )
    assert blessed["accepted_drop"] == {
        "reason": "drop the leaky column (#12)",
        "champion": "v1.0.0",
        "metrics": {"rmse": 5.0},
        "applied": True,
    }
    by_commit = planned_drop(
        params, tmp_path, monkeypatch, accepted.model_copy(update=dict(champion="0123456"))
    )
    assert by_commit["blessed"]
    too_small = planned_drop(
        params, tmp_path, monkeypatch, accepted.model_copy(update=dict(metrics={"rmse": 0.2}))
    )
    assert not too_small["blessed"]  # the drop is larger than the one accepted
    stale = planned_drop(params, tmp_path, monkeypatch, accepted, champion_version="v1.1.0")
    failed = [c["reason"] for c in stale["checks"] if not c["passed"]]
    assert not stale["blessed"] and stale["accepted_drop"]["applied"] is False
    assert any("the champion is now m@v1.1.0" in r and "remove it" in r for r in failed), failed


def test_a_changed_split_compares_on_rows_neither_model_was_trained_on(
    params, tmp_path, monkeypatch
):
    """A flexible champion (a random forest) trained with split.seed 1, a neutral retrain (the
    same forest) with split.seed 2: today's gate scored the champion on test rows it had
    memorised (about 3 in 4 of them) and blocked the retrain: accuracy -0.041 [-0.057, -0.025].
    The gate now finds those rows from the champion's committed params.yaml and dvc.lock,
    compares on the rest, blesses, and says the split changed."""
    from actions_mlops.core.config import SplitParams
    from actions_mlops.data.contract import Column, Contract
    from actions_mlops.data.split import split
    from actions_mlops.release.fingerprint import md5

    monkeypatch.chdir(tmp_path)
    write_findings()
    x, y = make_classification(n_samples=3000, n_features=5, flip_y=0.1, random_state=3)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(5)]).assign(y=y.astype(str))
    Path("data/raw").mkdir(parents=True)
    frame.to_csv("data/raw/dataset.csv", index=False)
    columns = {f"x{i}": Column(f"x{i}", "float") for i in range(5)}
    contract = Contract(columns=columns | {"y": Column("y", "str", "target")})
    champion_split = {"test_size": 0.25, "seed": 1, "stratify": True}
    committed = {"data": {"raw": "data/raw/dataset.csv"}, "split": champion_split}
    Path("params.yaml").write_text(json.dumps(committed))
    lock = {
        "stages": {
            "split": {
                "deps": [{"path": "data/raw/dataset.csv", "md5": md5(Path("data/raw/dataset.csv"))}]
            }
        }
    }
    Path("dvc.lock").write_text(json.dumps(lock))
    for command in (["init", "-q", "-b", "main"], ["add", "params.yaml", "dvc.lock"]):
        subprocess.run(["git", *command], check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "champion"],
        check=True,
    )
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    read = pd.read_csv("data/raw/dataset.csv", dtype={"y": str})

    def fit(seed: int) -> RandomForestClassifier:
        train, _ = split(read, contract, SplitParams(0.25, seed, True))
        forest = RandomForestClassifier(n_estimators=50, random_state=0)
        return forest.fit(train.drop(columns="y"), train["y"])

    models = {"model.skops": fit(2), "champion.skops": fit(1)}
    monkeypatch.setattr(gate_module, "load_model", lambda path: models[Path(path).name])
    monkeypatch.setattr(gate_module, "fetch_model", lambda champion, path: ("dvc", ""))
    monkeypatch.setattr(gate_module, "recorded_metrics", lambda champion: {})
    rules = GateParams(
        metrics={"accuracy": MetricRule(compare="non_inferior", margin=0.05)}, resamples=500
    )
    settings = params.model_copy(
        update={
            "task": "classification",
            "gate": rules,
            "data": params.data.model_copy(update={"raw": Path("data/raw/dataset.csv")}),
            "split": SplitParams(0.25, 2, True),
            "evaluate": params.evaluate.model_copy(update={"slices": []}),
        }
    )
    _, test = split(read, contract, settings.split)
    report = run_gate(settings, contract, test, Champion("m", "v1.0.0", commit.strip()), tmp_path)
    check = next(c for c in report["checks"] if c["name"] == "accuracy vs champion")
    assert report["split"]["changed"] is True
    assert 30 < report["split"]["compared_rows"] < len(test) / 2
    assert "split.seed 1 → 2" in report["split"]["reason"]
    assert any(note.startswith("Split: the split changed") for note in report["notes"])
    assert check["passed"], check["reason"]
    assert report["blessed"]
