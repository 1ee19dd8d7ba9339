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
    Contract,
    load_contract,
)
from actions_mlops.data.infer import (
    infer_contract,
)
from actions_mlops.monitoring import drift
from actions_mlops.monitoring.reference import (
    KNOTS,
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


def test_what_moved_is_said_in_words_centre_spread_tails_new_categories():
    """A drifting column says what moved: the centre (median), the spread (interquartile range,
    wider or narrower), the tails (1% and 99%), the one that moved most first, in reference
    standard deviations; a category column names new categories. Issue 32: a column listed as
    drifting with "median 1016 → 1016" and no word that its spread had moved; and a shifted
    or stretched column was said to move its "tails" most (they move with the centre and
    the spread), which the tails' move now leaves out."""
    rng = np.random.default_rng(4)
    reference = pd.DataFrame(
        {"pressure": rng.normal(1016, 5, 5000), "sky": rng.choice(["clear", "rain"], 5000)}
    )
    columns = {
        "pressure": Column(name="pressure", dtype="float"),
        "sky": Column(name="sky", dtype="str"),
    }
    profile = build_profile(reference, Contract(columns=columns))
    centre = pd.DataFrame({"pressure": rng.normal(1019, 5, 3000)})
    spread = pd.DataFrame({"pressure": rng.normal(1016, 10, 3000)})
    tails = pd.DataFrame({"pressure": np.r_[rng.normal(1016, 5, 2900), np.full(100, 1060.0)]})
    sky = pd.DataFrame({"sky": rng.choice(["clear", "rain", "hail"], 3000)})
    said = {
        name: column(drift.compare(batch, profile, PARAMS), batch.columns[0])
        for name, batch in (("centre", centre), ("spread", spread), ("tails", tails), ("sky", sky))
    }
    assert all(said[name]["drifted"] for name in ("centre", "spread", "sky")), said
    assert said["centre"]["detail"].startswith("centre moved most (0.")
    assert said["spread"]["detail"].startswith("spread moved most (")
    assert (
        "median 1016 → 1016" in said["spread"]["detail"] and "(wider)" in said["spread"]["detail"]
    )
    assert said["tails"]["detail"].startswith("tails moved most (")
    assert "1 new category (3" in said["sky"]["detail"]


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
    """The profile knows the training CDF exactly at its knots (every distinct value, or KNOTS
    evenly spaced ranks and the TAIL extremes), and the statistic is measured there: never above
    scipy's two-sample statistic on the raw values, and below it by at most the largest share of
    training rows between two knots (1/(KNOTS-1) rounded up to a row) plus the knots' 10-digit
    rounding (one batch row)."""
    reference, batch = SAMPLES[case]
    cdf = drift.reference_cdf(numeric_profile(reference))
    _, statistic = drift.numeric_distances(batch, cdf)
    expected = stats.ks_2samp(reference, batch).statistic
    between = float(np.max(cdf.below[1:] - cdf.at[:-1], initial=0.0))
    assert between <= 1 / (KNOTS - 1) + 1 / len(reference)
    assert expected - between - 1 / len(batch) <= statistic <= expected + 1 / len(batch)


@pytest.mark.parametrize("case", SAMPLES)
def test_the_normed_wasserstein_distance_agrees_with_scipy_on_raw_samples(case):
    """The distance is the area between the batch's CDF and the profile's (exact at the knots,
    linear between them), over the reference's standard deviation (ddof 1): within 1% of a
    standard deviation of scipy's on the raw values, long tails included (the extremes are
    knots)."""
    reference, batch = SAMPLES[case]
    size, _, _ = drift.numeric_drift(batch, numeric_profile(reference))
    expected = stats.wasserstein_distance(reference, batch) / np.std(reference, ddof=1)
    assert size == pytest.approx(expected, abs=0.01)


def test_the_ks_decision_agrees_with_scipy_where_scipy_is_clear():
    """Clear cases: scipy's p-value a factor 5 or more from alpha, either way (both occur)."""
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


def long_tailed(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """A table like a real log of transactions: a long-tailed amount (log-normal, sigma 2), a
    Pareto-tailed duration, a count with many ties, a category, a binary target."""
    return pd.DataFrame(
        {
            "amount": rng.lognormal(0, 2, rows),
            "duration": rng.pareto(1.5, rows),
            "visits": (rng.poisson(30, rows) + rng.integers(0, 5, rows)).astype(float),
            "channel": rng.choice(["web", "shop", "phone"], rows, p=[0.6, 0.3, 0.1]),
            "bought": rng.choice(["yes", "no"], rows),
        }
    )


LONG_TAILED = Contract(
    columns={
        "amount": Column("amount", "float"),
        "duration": Column("duration", "float"),
        "visits": Column("visits", "float"),
        "channel": Column("channel", "str"),
        "bought": Column("bought", "str", "target"),
    }
)


@pytest.mark.parametrize("name", ["amount", "duration", "visits"])
def test_the_training_rows_against_their_own_profile_show_no_change(name):
    """Today's tails are the training data's, not 1% spread evenly up to the maximum: the rows a
    profile was made from are 0.00 SD from it and p = 1 (the 101-quantile profile: 0.29 SD on
    the log-normal amount, 0.6 SD on the Pareto duration)."""
    train = long_tailed(30_000, np.random.default_rng(5))
    profile = build_profile(train, LONG_TAILED)
    size, p_value, _ = drift.numeric_drift(train[name].to_numpy(), profile["columns"][name])
    assert size < 0.002 and p_value > 0.99


def test_p_values_match_the_exact_two_sample_test_on_the_training_rows_at_any_size():
    """Held-back rows of the training population, 200 to 100,000 of them: the p-value is
    scipy's two-sample KS p-value on the training rows, and never smaller by more than the
    knots' resolution allows (the 101-quantile profile gave 0.01 where the exact p was 0.85
    on the count with ties, and grew more eager with the batch)."""
    rng = np.random.default_rng(6)
    population = long_tailed(130_000, rng)
    train, held = population.iloc[:30_000], population.iloc[30_000:]
    profile = build_profile(train, LONG_TAILED)
    for rows in (200, 5_000, 100_000):
        batch = held.iloc[:rows]
        for name in ("amount", "duration", "visits"):
            _, p_value, _ = drift.numeric_drift(batch[name].to_numpy(), profile["columns"][name])
            exact = stats.ks_2samp(train[name], batch[name], method="asymp").pvalue
            assert p_value >= min(exact, 0.5) - 0.05, (rows, name, p_value, exact)
            assert p_value == pytest.approx(exact, abs=0.1), (rows, name, p_value, exact)


def test_no_false_alarms_at_any_batch_size_and_real_shifts_alarm():
    """Batches of held-back rows (the training period, i.i.d.), 200 to 100,000 rows, scored
    against the profile of 30,000 training rows where a long-tailed amount carries 90% of the
    importance: no alarm and no drifting feature; the same batches with the amount shifted by
    +0.25 or +1 SD alarm, every one. The 101-quantile profile flagged drift in a batch of 5,000
    (its own training rows differed from it by more than the threshold, and the KS test against
    it grew eager with the batch)."""
    rng = np.random.default_rng(7)
    population = long_tailed(230_000, rng)
    train, held = population.iloc[:30_000], population.iloc[30_000:]
    importance = [
        {"feature": "amount", "importance": 0.9},
        {"feature": "duration", "importance": 0.04},
        {"feature": "visits", "importance": 0.04},
        {"feature": "channel", "importance": 0.02},
    ]
    profile = build_profile(train, LONG_TAILED, importance)
    std = train["amount"].std()
    for rows, runs in ((200, 20), (1_000, 10), (5_000, 5), (100_000, 2)):
        for run in range(runs):
            batch = held.sample(rows, random_state=run)
            report = drift.compare(batch, profile, PARAMS)
            assert report["verdict"] == "ok" and not drifted(report), (rows, report["columns"])
            for shift in (0.25, 1.0):
                moved = batch.assign(amount=batch["amount"] + shift * std)
                report = drift.compare(moved, profile, PARAMS)
                assert report["verdict"] == "fail" and "amount" in drifted(report), (rows, shift)


def test_inputs_outside_the_training_range_are_counted_per_feature_whatever_its_weight():
    """A 4.5 SD shift of an unimportant feature is no alarm (drift is weighted by importance),
    but its values beyond the training maximum are counted and shown, as are new categories."""
    rng = np.random.default_rng(8)
    train = long_tailed(5_000, rng)
    importance = [{"feature": "amount", "importance": 1.0}]
    profile = build_profile(train, LONG_TAILED, importance)
    batch = long_tailed(1_000, rng)
    batch["visits"] += 4.5 * train["visits"].std()
    batch.loc[:9, "channel"] = "app"
    report = drift.compare(batch, profile, PARAMS)
    assert report["verdict"] == "ok" and "visits" in drifted(report)
    outside = report["outside_training"]
    assert outside["columns"]["visits"]["above"] > 400  # half the batch is beyond the maximum
    assert outside["columns"]["channel"] == {"new": 10, "examples": ["app"]}
    assert outside["rows"] >= outside["columns"]["visits"]["above"]
    text = drift.markdown(report)
    assert "outside what training saw" in text and "| `visits` | 0 |" in text
    assert "`app`" in text


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
