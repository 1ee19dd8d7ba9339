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
from dataclasses import asdict, dataclass, replace
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
from actions_mlops.release.overlap import find_overlap
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


MIN_UNSEEN = 30  # fewer test rows unseen by the champion than this: no paired comparison


def _rows(predictions: Predictions, kept: np.ndarray) -> Predictions:
    """The predictions on the `kept` test rows only."""
    proba = None if predictions.proba is None else predictions.proba[kept]
    return Predictions(predictions.y_true[kept], predictions.y_pred[kept], proba)


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


LEAK_CHECKS = {"single_feature_leak": "leak", "single_feature_near_leak": "near-leak"}


def reported_leaks(acknowledged: list[str], allow: bool) -> list[dict[str, Any]] | None:
    """The leaks and near-leaks of reports/validation.json: column, kind, score (as validate
    wrote it) and whether params acknowledge it; None when validation has not run."""
    if not VALIDATION_REPORT.exists():
        return None
    findings = json.loads(VALIDATION_REPORT.read_text(encoding="utf-8")).get("findings", [])
    return [
        {
            "column": f["column"],
            "kind": LEAK_CHECKS[f["check"]],
            "score": f.get("observed", ""),
            "acknowledged": allow or f["column"] in acknowledged,
        }
        for f in findings
        if f.get("check") in LEAK_CHECKS
    ]


def leak_check(allow: bool, acknowledged: list[str] | None = None) -> Check:
    """Refuse a model trained on data where one feature alone predicts the target, or nearly
    (the single_feature_leak and single_feature_near_leak warnings of `make validate`), unless
    params.yaml gate.acknowledged_leaks names each such column (or gate.allow_leaks)."""
    name = "no single-feature leak"
    found = reported_leaks(acknowledged or [], allow)
    if found is None:
        return Check(name, "", False, f"{VALIDATION_REPORT} missing: run make repro")
    if not found:
        return Check(name, "", True, "no feature alone predicts the target (make validate)")

    def listed(leaks: list[dict[str, Any]]) -> str:
        return ", ".join(
            f"{x['column']} ({', '.join(filter(None, (x['kind'], x['score'])))})" for x in leaks
        )

    open_ = [x for x in found if not x["acknowledged"]]
    if not open_:
        how = "gate.allow_leaks" if allow else "gate.acknowledged_leaks"
        return Check(name, "", True, f"allowed by {how}: {listed(found)}")
    columns = ", ".join(x["column"] for x in open_)
    reason = (
        f"{listed(open_)} alone predict(s) the target ({VALIDATION_REPORT}): ignore it in "
        "contract.yaml, or, if it is known when predicting, acknowledge it in params.yaml: "
        f"gate.acknowledged_leaks: [{columns}] (gate.allow_leaks: true allows every leak)"
    )
    return Check(name, "", False, reason)


def accepts(accepted: str, champion: Champion) -> bool:
    """Whether gate.accept_drop.champion names this champion: its version (with or without the
    v), its tag, or its commit (at least 7 characters of it)."""
    value = accepted.strip()
    if value in (champion.version, champion.version.removeprefix("v"), champion.tag):
        return True
    return len(value) >= 7 and champion.commit.startswith(value)


def drop_check(
    rules: GateParams, champion: Champion | None
) -> tuple[Check | None, dict[str, MetricRule]]:
    """The check of params gate.accept_drop (None when unset) and the metric rules it widens:
    each accepted metric compared as non-inferior within its accepted drop. The acceptance holds
    against the champion it names only: with another champion (or none) it fails the gate, to
    be removed (it covered one change)."""
    accepted = rules.accept_drop
    if accepted is None:
        return None, dict(rules.metrics)
    name = "accepted metric drop"
    drops = ", ".join(f"{metric} up to {drop:g}" for metric, drop in accepted.metrics.items())
    if champion is None:
        reason = (
            f"gate.accept_drop accepts a drop against {accepted.champion}, but no champion is "
            "registered: remove gate.accept_drop from params.yaml"
        )
        return Check(name, "", False, reason), dict(rules.metrics)
    if not accepts(accepted.champion, champion):
        reason = (
            f"gate.accept_drop was accepted against {accepted.champion}; the champion is now "
            f"{champion.tag} ({champion.commit[:7]}): it covered one change, remove it from "
            "params.yaml"
        )
        return Check(name, "", False, reason), dict(rules.metrics)
    compared = {m for m, rule in rules.metrics.items() if rule.compare}
    unknown = [m for m in accepted.metrics if m not in compared]
    if unknown:
        reason = (
            f"gate.accept_drop.metrics names {', '.join(unknown)}, not compared with the "
            f"champion by gate.metrics (compared: {', '.join(sorted(compared)) or 'none'})"
        )
        return Check(name, "", False, reason), dict(rules.metrics)
    widened = {
        metric: rule.model_copy(
            update={"compare": "non_inferior", "margin": accepted.metrics[metric]}
        )
        if metric in accepted.metrics
        else rule
        for metric, rule in rules.metrics.items()
    }
    reason = f"against {champion.tag}: {drops} — {accepted.reason}"
    return Check(name, "", True, reason), widened


def widened(check: Check, relaxed: dict[str, float]) -> Check:
    """A comparison judged within an accepted drop (gate.accept_drop) says so in its reason."""
    if check.metric not in relaxed:
        return check
    reason = f"accepted drop up to {relaxed[check.metric]:g} (gate.accept_drop): {check.reason}"
    return replace(check, reason=reason)


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
    overlap = None if champion is None else find_overlap(params, contract, champion, len(test))
    if overlap is not None and overlap.changed is not False:
        notes.append(f"Split: {overlap.reason}.")
    on_rows, kept = candidate, None  # the rows of the paired comparison: those unseen by both
    if overlap is not None and overlap.unseen is not None:
        kept = overlap.unseen
        on_rows = _rows(candidate, kept)
        weights_kept = bootstrap_weights(int(kept.sum()), rules.resamples, rules.seed)
    accepted, metric_rules = drop_check(rules, champion)
    applies = rules.accept_drop is not None and accepted is not None and accepted.passed
    relaxed = dict(rules.accept_drop.metrics) if rules.accept_drop and applies else {}
    for metric, rule in metric_rules.items():
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
            if len(on_rows.y_true) < MIN_UNSEEN:
                reason = (
                    f"only {len(on_rows.y_true)} test rows were not trained on by the champion "
                    f"(at least {MIN_UNSEEN} needed): {overlap.reason if overlap else ''}"
                )
                checks.append(Check(f"{metric} vs champion", metric, False, reason))
                continue
            champion_rows = champion_predictions
            if kept is not None:
                champion_rows = _rows(champion_predictions, kept)
            try:
                compared = paired_comparison(
                    metric,
                    rule,
                    on_rows,
                    champion_rows,
                    weights if kept is None else weights_kept,
                    rules.confidence,
                )
            except ValueError as error:  # e.g. one class left among the unseen rows
                reason = f"{metric} could not be compared on the unseen rows: {error}"
                compared = Check(f"{metric} vs champion", metric, False, reason)
            checks.append(widened(compared, relaxed))
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
            compared = recorded_comparison(metric, rule, value, recorded or {})
            checks.append(widened(compared, relaxed))
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
    checks.append(leak_check(rules.allow_leaks, rules.acknowledged_leaks))
    if accepted is not None:
        checks.append(accepted)
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
        "split": None if overlap is None else overlap.report(len(test)),
        "checks": [asdict(check) for check in checks],
        "leaks": reported_leaks(rules.acknowledged_leaks, rules.allow_leaks) or [],
        "accepted_drop": None
        if rules.accept_drop is None
        else {**rules.accept_drop.model_dump(), "applied": bool(accepted and accepted.passed)},
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
