"""Drift: the detector's measured quality (false alarms, detection), its agreement with scipy
on raw samples, and its reports."""

import json
from argparse import Namespace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from actions_mlops.core.config import DriftParams
from actions_mlops.data.contract import (
    Column,
    load_contract,
)
from actions_mlops.data.infer import (
    infer_contract,
)
from actions_mlops.monitoring import drift
from actions_mlops.monitoring.reference import (
    QUANTILES,
    build_profile,
    profile_column,
    write_reference_profile,
)

PARAMS = DriftParams()
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
        batch = frame.sample(500, replace=True, random_state=int(rng.integers(10**9)))
        alarms += bool(drifted(drift.compare(batch, profile, PARAMS)))
        batch = frame.sample(500, replace=True, random_state=int(rng.integers(10**9)))
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


def raw_samples() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(reference, batch) pairs of raw values: symmetric, skewed, discrete with many ties, of
    different sizes, the same distribution or a shifted one."""
    rng = np.random.default_rng(20)
    normal, lognormal, poisson = rng.normal, rng.lognormal, rng.poisson
    return {
        "normal 2000 vs 500": (normal(0, 1, 2000), normal(0, 1, 500)),
        "normal 2000 vs 500 shifted 0.3 sd": (normal(0, 1, 2000), normal(0.3, 1, 500)),
        "normal 50 vs 40": (normal(0, 1, 50), normal(0, 1, 40)),
        "log-normal 5000 vs 200": (lognormal(0, 1, 5000), lognormal(0, 1, 200)),
        "log-normal 300 vs 3000 shifted": (lognormal(0, 1, 300), lognormal(0.2, 1, 3000)),
        "counts 2000 vs 500": (poisson(30, 2000) * 1.0, poisson(30, 500) * 1.0),
        "counts 1000 vs 1000 shifted": (poisson(30, 1000) * 1.0, poisson(32, 1000) * 1.0),
        "tenths 1000 vs 300, exponential": (
            normal(0, 1, 1000).round(1),
            rng.exponential(1, 300).round(1),
        ),
    } | {  # a long tail, 3 draws: the batch's extremes lie far beyond the reference's
        f"amounts (long tail) 300 vs 20000, draw {i}": (
            lognormal(0, 2, 300),
            lognormal(0, 2, 20_000),
        )
        for i in range(3)
    }


SAMPLES = raw_samples()


def numeric_profile(reference: np.ndarray) -> dict:
    """The profile the `profile` stage writes for a numeric column of these values."""
    profiled = profile_column(pd.Series(reference), Column(name="x", dtype="float"))
    assert profiled is not None and profiled["kind"] == "numeric"
    return profiled


@pytest.mark.parametrize("case", SAMPLES)
def test_the_ks_statistic_agrees_with_scipy_on_raw_samples(case):
    """The profile knows the reference CDF only at its Q = QUANTILES quantiles, linear between
    them. Between two neighbouring quantiles the reference's own CDF rises by 1/(Q-1), and each
    stored quantile (numpy's default linear interpolation) is off the reference's CDF by at most
    1/n_ref: the profile's CDF is within 1/(Q-1) + 1/n_ref of the reference's everywhere, and so
    the KS statistic (the largest gap to the batch's CDF) is within that of scipy's two-sample
    statistic on the raw values. The quantiles' 6-digit rounding (at most 5e-6 of a value) is
    allowed one batch row more: 1/n_batch."""
    reference, batch = SAMPLES[case]
    quantiles = np.asarray(numeric_profile(reference)["quantiles"])
    _, statistic = drift.numeric_distances(batch, quantiles)
    tolerance = 1 / (QUANTILES - 1) + 1 / len(reference) + 1 / len(batch)
    expected = stats.ks_2samp(reference, batch).statistic
    assert statistic == pytest.approx(expected, abs=tolerance)


@pytest.mark.parametrize("case", SAMPLES)
def test_the_normed_wasserstein_distance_agrees_with_scipy_on_raw_samples(case):
    """The distance is the area between the batch's CDF and the profile's, divided by the
    reference's standard deviation (ddof 1). Between neighbouring quantiles q_k < q_k+1 the
    profile's CDF rises linearly by 1/(Q-1) and the reference's own CDF is monotone within
    1/n_ref of the same bounds, so the area between the two is at most (q_k+1 - q_k) *
    (1/(2(Q-1)) + 1/n_ref); summed over the quantiles: range(reference) * (1/(2(Q-1)) +
    1/n_ref). The 6-digit rounding of the quantiles and the snapping of batch values to them
    move values by at most 1e-5 of their size: 1e-5 * max|value| more. All over the std."""
    reference, batch = SAMPLES[case]
    profile = numeric_profile(reference)
    size, _, _ = drift.numeric_drift(batch, profile)
    std = np.std(reference, ddof=1)
    resolution = np.ptp(reference) * (1 / (2 * (QUANTILES - 1)) + 1 / len(reference))
    rounding = 1e-5 * np.abs(np.r_[reference, batch]).max()
    expected = stats.wasserstein_distance(reference, batch) / std
    assert size == pytest.approx(expected, abs=(resolution + rounding) / std)


def test_the_ks_decision_agrees_with_scipy_where_scipy_is_clear():
    """Clear cases: scipy's p-value a factor 5 or more from alpha, either way (both occur here).
    Nearer alpha the profile's resolution decides: "counts 2000 vs 500" has 0.19 from scipy,
    0.07 from the profile (its KS statistic is 0.01 larger)."""
    alpha = PARAMS.alpha
    clear = {"drift": 0, "no drift": 0}
    for case, (reference, batch) in SAMPLES.items():
        expected = stats.ks_2samp(reference, batch).pvalue
        if alpha / 5 < expected < 5 * alpha:
            continue
        _, p_value, _ = drift.numeric_drift(batch, numeric_profile(reference))
        assert (p_value < alpha) == (expected < alpha), f"{case}: {p_value:.3g} vs {expected:.3g}"
        clear["drift" if expected < alpha else "no drift"] += 1
    assert min(clear.values()) >= 2, clear


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
