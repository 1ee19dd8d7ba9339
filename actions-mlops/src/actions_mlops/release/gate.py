"""Gate: bless the candidate model or not, against absolute bounds and the champion.

The candidate and the champion are scored on the same current test rows; the difference of
each compared metric is a paired bootstrap, so "as good as the champion" is a statement with a
confidence level rather than a coin flip between two numbers. Writes reports/gate.json and
exits 1 when the candidate is NOT_BLESSED (after writing everything the report needs).

gate.json also records what was judged (`judged`: the commit, whether the tree was clean, the
model, data, params and contract hashes), so `make register` can refuse a verdict that no longer
describes HEAD. It is a per-run output (git-ignored), written where it is used.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from actions_mlops.core.config import (
    GATE_FILE,
    MODEL_FILE,
    SLICES_FILE,
    TEST_SPLIT,
    VALIDATION_REPORT,
    GateParams,
    MetricRule,
    Params,
    load_params,
)
from actions_mlops.core.modelfile import load_model
from actions_mlops.data.contract import (
    Contract,
    load_contract,
)
from actions_mlops.data.tables import (
    read_table,
)
from actions_mlops.release.champion import (
    Champion,
    fetch_model,
    find_champion,
    recorded_metrics,
)
from actions_mlops.release.fingerprint import fingerprints
from actions_mlops.training.evaluate import predict
from actions_mlops.training.metrics import (
    Predictions,
    Resamples,
    bootstrap_weights,
    direction,
    interval,
    score,
)

BLESSED, NOT_BLESSED = "BLESSED", "NOT_BLESSED"


@dataclass
class Check:
    """One rule applied to the candidate, with everything needed to explain the outcome."""

    name: str
    metric: str
    passed: bool
    reason: str
    value: float | None = None
    interval: tuple[float, float] | None = None
    bound: float | None = None
    champion_value: float | None = None
    difference: float | None = None
    difference_interval: tuple[float, float] | None = None


def _oriented(metric: str, values: np.ndarray) -> np.ndarray:
    """Flip lower-is-better metrics so that a positive difference always means 'better'."""
    return values if direction(metric) == "higher" else -values


def bound_checks(
    metric: str, rule: MetricRule, value: float, ci: tuple[float, float]
) -> list[Check]:
    """Floor and ceiling of one metric (fails closed on a value that is not a number)."""
    checks = []
    for kind, bound in (("floor", rule.floor), ("ceiling", rule.ceiling)):
        if bound is None:
            continue
        if not math.isfinite(value):
            passed, reason = False, f"{metric} could not be computed (got {value})"
        else:
            passed = value >= bound if kind == "floor" else value <= bound
            relation = (
                (">=" if kind == "floor" else "<=") if passed else ("<" if kind == "floor" else ">")
            )
            reason = f"{metric} {value:.4f} {relation} {kind} {bound:g}"
        checks.append(Check(f"{metric} {kind}", metric, passed, reason, value, ci, bound))
    return checks


def paired_comparison(
    metric: str,
    rule: MetricRule,
    candidate: Predictions,
    champion: Predictions,
    weights: Resamples,
    confidence: float,
) -> Check:
    """Non-inferiority or superiority of the candidate from a paired bootstrap."""
    candidate_samples, champion_samples = (
        score(metric, candidate, weights),
        score(metric, champion, weights),
    )
    value, champion_value = float(score(metric, candidate)[0]), float(score(metric, champion)[0])
    difference = float(_oriented(metric, np.array([value - champion_value]))[0])
    low, high = interval(_oriented(metric, candidate_samples - champion_samples), confidence)
    threshold = -rule.margin if rule.compare == "non_inferior" else 0.0
    passed = bool(low > threshold)
    kind = "non-inferior" if rule.compare == "non_inferior" else "superior"
    verdict = "is" if passed else "is not shown"
    reason = (
        f"{metric} {verdict} {kind} to the champion: difference {difference:+.4f} "
        f"({confidence:.0%} interval [{low:+.4f}, {high:+.4f}], needs lower end > {threshold:+g})"
    )
    return Check(
        f"{metric} vs champion",
        metric,
        passed,
        reason,
        value,
        interval(candidate_samples, confidence),
        threshold,
        champion_value,
        difference,
        (low, high),
    )


def recorded_comparison(
    metric: str, rule: MetricRule, value: float, recorded: dict[str, Any]
) -> Check:
    """Fallback when the champion's model cannot be fetched: its recorded value, unpaired."""
    entry = recorded.get("metrics", {}).get(metric)
    if entry is None:
        return Check(f"{metric} vs champion", metric, False, f"champion has no recorded {metric}")
    champion_value = float(entry["value"])
    difference = float(_oriented(metric, np.array([value - champion_value]))[0])
    threshold = -rule.margin if rule.compare == "non_inferior" else 0.0
    passed = difference > threshold
    reason = (
        f"{metric} difference {difference:+.4f} vs the champion's recorded value "
        f"(model not available: unpaired, no interval), needs > {threshold:+g}"
    )
    return Check(
        f"{metric} vs champion",
        metric,
        passed,
        reason,
        value,
        None,
        threshold,
        champion_value,
        difference,
    )


# How a slice check too small to judge starts its reason (the report counts them in one line).
NOT_GATED = "not gated"


def slice_check(
    name: str, metric: str, group: dict[str, Any], floor: float, min_rows: int
) -> Check:
    """One slice against one floor; too small to judge means reported, not gated."""
    value, rows = group.get(metric), group["rows"]
    if value is None:
        return Check(name, metric, False, f"{metric} not computed for this slice")
    if rows < min_rows:
        return Check(name, metric, True, f"{NOT_GATED}: {rows} rows < min_rows {min_rows}", value)
    passed = math.isfinite(value) and value >= floor
    reason = f"{metric} {value:.4f} {'>=' if passed else '<'} floor {floor:g} ({rows} rows)"
    return Check(name, metric, passed, reason, value, None, floor)


def slice_checks(
    slices: dict[str, list[dict[str, Any]]], wanted: list[str], params: GateParams
) -> list[Check]:
    """Floors for every slice of every wanted column; a missing slice column fails closed."""
    checks = []
    for column in wanted:
        if column not in slices:
            reason = f"slice column {column!r} missing from {SLICES_FILE}"
            checks.append(Check(f"slice {column}", "", False, reason))
            continue
        for group in slices[column]:
            for metric, floor in params.slices.floors.items():
                name = f"slice {column}={group['value']} {metric}"
                checks.append(slice_check(name, metric, group, floor, params.slices.min_rows))
    return checks


def leak_check(allow: bool) -> Check:
    """Refuse a model trained on data where one feature alone predicts the target (the
    single_feature_leak warnings of `make validate`), unless params.yaml gate.allow_leaks."""
    name = "no single-feature leak"
    if not VALIDATION_REPORT.exists():
        return Check(name, "", False, f"{VALIDATION_REPORT} missing: run make repro")
    findings = json.loads(VALIDATION_REPORT.read_text(encoding="utf-8")).get("findings", [])
    found = [f["column"] for f in findings if f.get("check") == "single_feature_leak"]
    if not found:
        return Check(name, "", True, "no feature alone predicts the target (make validate)")
    listed = ", ".join(found)
    if allow:
        return Check(name, "", True, f"allowed by gate.allow_leaks: {listed}")
    reason = (
        f"{listed} alone predict(s) the target ({VALIDATION_REPORT}): ignore it in "
        "contract.yaml, or set gate.allow_leaks: true if it is known when predicting"
    )
    return Check(name, "", False, reason)


def how_compared(
    rules: GateParams, champion: Champion | None, source: str | None, unavailable: str | None
) -> tuple[str, str]:
    """How the candidate was compared with the champion: "paired" (both models on the same test
    rows), "recorded" (the champion's committed metrics, unpaired) or "none"; and why."""
    if not any(rule.compare for rule in rules.metrics.values()):
        return "none", "no metric in params gate.metrics compares with the champion"
    if champion is None:
        return "none", "no registered champion yet"
    if source:
        return "paired", f"both models scored on the same test rows (champion model: {source})"
    missing = f"the model of {champion.tag} is not available ({unavailable or 'no reason given'})"
    if rules.require_champion_model:
        return "none", f"{missing} and gate.require_champion_model is true"
    return "recorded", f"{missing}: compared with its recorded metrics, unpaired"


def run_gate(
    params: Params, contract: Contract, test: pd.DataFrame, champion: Champion | None, workdir: Path
) -> dict[str, Any]:
    """All checks of params.yaml `gate` for the current model; returns the gate report."""
    rules = params.gate
    candidate = predict(load_model(MODEL_FILE), test, contract, params.task)
    weights = bootstrap_weights(len(test), rules.resamples, rules.seed)
    champion_predictions, champion_source, recorded, unavailable = None, None, None, ""
    if champion is not None:
        champion_source, unavailable = fetch_model(champion, workdir / "champion.skops")
        if champion_source:
            champion_predictions = predict(
                load_model(workdir / "champion.skops"), test, contract, params.task
            )
        recorded = recorded_metrics(champion) or {}
    checks: list[Check] = []
    notes: list[str] = []
    for metric, rule in rules.metrics.items():
        try:
            samples = score(metric, candidate, weights)
        except ValueError as error:  # e.g. a metric the task's predictions cannot give
            checks.append(Check(metric, metric, False, f"{metric} could not be computed: {error}"))
            continue
        value = float(score(metric, candidate)[0])
        checks += bound_checks(metric, rule, value, interval(samples, rules.confidence))
        if rule.compare is None or champion is None:
            continue
        if champion_predictions is not None:
            checks.append(
                paired_comparison(
                    metric, rule, candidate, champion_predictions, weights, rules.confidence
                )
            )
        elif rules.require_champion_model:
            checks.append(
                Check(
                    f"{metric} vs champion",
                    metric,
                    False,
                    f"champion model not available ({unavailable}) and "
                    "gate.require_champion_model is true",
                )
            )
        else:
            checks.append(recorded_comparison(metric, rule, value, recorded or {}))
    if champion is None:
        notes.append(
            "First model: no registered champion, so comparisons were skipped; bounds still apply."
        )
    elif champion_predictions is None:
        notes.append(
            f"Champion {champion.tag}: model not available ({unavailable}), compared with its "
            "recorded metrics."
        )
    comparison, comparison_reason = how_compared(rules, champion, champion_source, unavailable)
    slices = json.loads(SLICES_FILE.read_text(encoding="utf-8")) if SLICES_FILE.exists() else {}
    checks += slice_checks(slices, params.evaluate.slices, rules)
    checks.append(leak_check(rules.allow_leaks))
    blessed = all(check.passed for check in checks)
    return {
        "verdict": BLESSED if blessed else NOT_BLESSED,
        "blessed": blessed,
        "test_rows": len(test),
        "confidence": rules.confidence,
        "resamples": rules.resamples,
        "champion": None
        if champion is None
        else {
            **asdict(champion),
            "tag": champion.tag,
            "model_source": champion_source,
            "metrics": recorded,
        },
        "notes": notes,
        "comparison": comparison,
        "comparison_reason": comparison_reason,
        "checks": [asdict(check) for check in checks],
    }


def main() -> int:
    """CLI entry: write reports/gate.json; exit 1 when the candidate is not blessed."""
    params, contract = load_params(), load_contract()
    champion = find_champion(params.registry.model, params.registry.champion_stage)
    judged = fingerprints(params.data.raw)
    # No verdict survives a run that cannot finish (e.g. a champion file that fails its hash).
    GATE_FILE.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        test = read_table(TEST_SPLIT, contract)
        report = {**run_gate(params, contract, test, champion, Path(folder)), "judged": judged}
    GATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    GATE_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for check in report["checks"]:
        print(f"gate: {'PASS' if check['passed'] else 'FAIL'} {check['name']}: {check['reason']}")
    for note in report["notes"]:
        print(f"gate: {note}")
    print(f"gate: {report['verdict']}")
    return 0 if report["blessed"] else 1
