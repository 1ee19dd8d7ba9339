"""Drift: compare a batch of data with the reference profile of the training data.

A column drifts only when BOTH its change is large enough (normed Wasserstein distance for
numbers, Jensen-Shannon distance for categories) AND the change is significant (Kolmogorov-
Smirnov or chi-square test, Benjamini-Hochberg corrected over the columns). Size alone flags
noise in small batches; a test alone flags negligible shifts in large ones. The dataset verdict
weights drifting features by the model's importance: warn and fail levels are in params.yaml.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from actions_mlops.core.config import (
    DRIFT_MARKDOWN,
    DRIFT_REPORT,
    DriftParams,
    load_params,
)
from actions_mlops.core.markdown import inert
from actions_mlops.data.contract import (
    load_contract,
)
from actions_mlops.data.tables import (
    read_table,
)
from actions_mlops.monitoring.reference import (
    committed_profile,
    label,
    write_reference_profile,
)
from actions_mlops.release.champion import find_champion

__all__ = ["compare", "main", "write_reference_profile"]
MARKDOWN_ROWS = 40  # keeps the section well under 10 KB


def _reference_cdf(quantiles: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference CDF at `grid` (right limits) and just below it (left limits).

    Between distinct quantile values the CDF is linear; a value repeated over several quantiles
    (a discrete column) is a jump, so ties are not mistaken for drift.
    """
    probs = np.linspace(0, 1, len(quantiles))
    first = np.r_[True, quantiles[1:] != quantiles[:-1]]
    last = np.r_[quantiles[1:] != quantiles[:-1], True]
    knots, low, high = quantiles[first], probs[first], probs[last]
    j = np.searchsorted(knots, grid, side="right") - 1
    inside = (j >= 0) & (j < len(knots) - 1)
    k = np.clip(j, 0, len(knots) - 1)
    following = np.clip(j + 1, 0, len(knots) - 1)
    span = np.where(inside, knots[following] - knots[k], 1.0)
    between = high[k] + (low[following] - high[k]) * (grid - knots[k]) / span
    right = np.where(j < 0, 0.0, np.where(j >= len(knots) - 1, 1.0, between))
    left = right.copy()
    exact = (j >= 0) & (knots[k] == grid)
    right[exact], left[exact] = high[k][exact], low[k][exact]
    return right, left


def _snap(values: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Sorted `values`, each set to the profile's value it equals up to the profile's rounding
    (6 significant digits), so a discrete column's batch jumps where the reference's do."""
    if len(knots) < 2:
        return np.sort(values)
    right = np.clip(np.searchsorted(knots, values), 1, len(knots) - 1)
    nearest = np.where(
        np.abs(knots[right - 1] - values) <= np.abs(knots[right] - values),
        knots[right - 1],
        knots[right],
    )
    return np.sort(np.where(np.isclose(values, nearest, rtol=1e-5, atol=0), nearest, values))


def numeric_distances(values: np.ndarray, quantiles: np.ndarray) -> tuple[float, float]:
    """(Wasserstein-1 distance, Kolmogorov-Smirnov statistic) between the finite `values` and
    the reference as its profile describes it: the CDF linear between the quantiles, with a jump
    where a value repeats over several quantiles.

    Both are measured between the two CDFs on the union of the batch values and the quantiles:
    the batch's CDF is flat between these points and the profile's linear, so the KS statistic is
    the largest gap at them and the area between the CDFs is exact (the batch is not summarised).
    """
    batch = _snap(np.sort(values[np.isfinite(values)]), np.unique(quantiles))
    grid = np.union1d(batch, quantiles)
    expected, expected_below = _reference_cdf(quantiles, grid)
    above = np.searchsorted(batch, grid, side="right") / len(batch)
    below = np.searchsorted(batch, grid, side="left") / len(batch)
    gap = float(max(np.abs(above - expected).max(), np.abs(below - expected_below).max()))
    # Between two grid points the gap is linear, from `start` to `end`: its mean absolute value
    # is the mean of theirs, or (a² + b²) / 2(a + b) where it crosses zero.
    start, end = above[:-1] - expected[:-1], above[:-1] - expected_below[1:]
    a, b = np.abs(start), np.abs(end)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_gap = np.where(start * end < 0, (a**2 + b**2) / (2 * (a + b)), (a + b) / 2)
    return float(np.diff(grid) @ mean_gap), gap


def numeric_drift(values: np.ndarray, reference: dict[str, Any]) -> tuple[float, float, str]:
    """(normed Wasserstein distance, two-sample KS p-value, detail) of `values` vs the profile."""
    quantiles = np.asarray(reference["quantiles"], dtype=float)
    distance, gap = numeric_distances(values, quantiles)
    size = float(distance / (reference["std"] or 1.0))
    finite = values[np.isfinite(values)]
    effective = len(finite) * reference["rows"] / (len(finite) + reference["rows"])
    p_value = float(stats.kstwo.sf(gap, max(1, round(effective))))
    median = float(np.median(finite))
    detail = f"median {quantiles[len(quantiles) // 2]:.4g} → {median:.4g}"
    return size, p_value, detail


def categorical_drift(values: pd.Series, reference: dict[str, Any]) -> tuple[float, float, str]:
    """(Jensen-Shannon distance, chi-square p-value, detail naming the category that moved most:
    the L-infinity distance) of `values` vs the profile."""
    expected = pd.Series(reference["counts"], dtype=float)
    observed = values.map(label).value_counts().astype(float)
    categories = expected.index.union(observed.index)
    expected, observed = (s.reindex(categories, fill_value=0.0) for s in (expected, observed))
    before, after = expected / expected.sum(), observed / observed.sum()
    size = float(jensenshannon(before, after, base=2))
    moved = (after - before).abs()
    at = int(np.argmax(moved.to_numpy()))  # before, after and moved share the index
    table = np.vstack([expected, observed])
    table = table[:, table.sum(axis=0) > 0]
    p_value = 1.0 if table.shape[1] < 2 else float(stats.chi2_contingency(table).pvalue)
    worst, share_before, share_after = moved.index[at], before.iloc[at], after.iloc[at]
    detail = f"{worst!r} {share_before:.1%} → {share_after:.1%} (L∞ {moved.max():.3f})"
    return size, p_value, detail


def compare(batch: pd.DataFrame, profile: dict[str, Any], params: DriftParams) -> dict[str, Any]:
    """Per-column drift of `batch` vs `profile`, worst first, and the weighted dataset verdict."""
    rows = []
    for name, reference in profile["columns"].items():
        if name not in batch.columns or batch[name].notna().sum() < 2:
            continue
        if reference["kind"] == "numeric":
            values = pd.to_numeric(batch[name], errors="coerce").to_numpy(dtype=float)
            size, p_value, detail = numeric_drift(values, reference)
            threshold, method = params.numeric_threshold, "Wasserstein (normed) + KS"
        else:
            size, p_value, detail = categorical_drift(batch[name], reference)
            threshold, method = params.categorical_threshold, "Jensen-Shannon + chi-square"
        rows.append(
            {
                "column": name,
                "role": reference["role"],
                "kind": reference["kind"],
                "method": method,
                "size": round(size, 4),
                "threshold": threshold,
                "p_value": p_value,
                "weight": profile["importance"].get(name, 0.0),
                "detail": detail,
            }
        )
    if rows:
        adjusted = stats.false_discovery_control([r["p_value"] for r in rows], method="bh")
        for row, p_adjusted in zip(rows, adjusted, strict=True):
            row["p_adjusted"] = float(p_adjusted)
            row["drifted"] = bool(row["size"] >= row["threshold"] and p_adjusted < params.alpha)
    rows.sort(key=lambda r: (not r["drifted"], -r["size"] / r["threshold"]))
    features = [r for r in rows if r["role"] == "feature"]
    # A feature the batch lacks (or has fewer than 2 values of) is not compared: it is named,
    # it warns, and its importance still counts in the total (a batch with one of five features
    # is not "100% drifted" when that one moves).
    profiled = [n for n, c in profile["columns"].items() if c["role"] == "feature"]
    compared = {r["column"] for r in features}
    missing = [name for name in profiled if name not in compared]
    weights = profile["importance"]
    total = sum(weights.get(name, 0.0) for name in profiled) or 1.0
    weighted = sum(r["weight"] for r in features if r["drifted"]) / total
    verdict = "fail" if weighted >= params.fail else "warn" if weighted >= params.warn else "ok"
    if missing and verdict == "ok":
        verdict = "warn"
    return {
        "verdict": verdict,
        "weighted_drift": round(weighted, 4),
        "drifted_features": sum(r["drifted"] for r in features),
        "features": len(features),
        "missing": missing,
        "batch_rows": len(batch),
        "reference_rows": profile["rows"],
        "params": params.model_dump(),
        "columns": rows,
    }


def markdown(report: dict[str, Any]) -> str:
    """The drift section of the PR report: the verdict and the drifting columns, worst first."""
    if report["verdict"] == "skipped":
        return f"### Data drift: ⏭️ skipped\n\n{report['reason']}\n"
    icon = {"ok": "✅", "warn": "⚠️", "fail": "❌"}[report["verdict"]]
    params = report["params"]
    lines = [
        f"### Data drift: {icon} {report['verdict']} "
        f"({report['weighted_drift']:.0%} of feature importance drifted; "
        f"warn at {params['warn']:.0%}, fail at {params['fail']:.0%})",
        "",
        f"{report['batch_rows']} rows against a reference of {report['reference_rows']}: "
        f"{report['drifted_features']} of {report['features']} features drift (change ≥ "
        f"threshold and Benjamini-Hochberg p < {params['alpha']}).",
    ]
    missing = report.get("missing") or []
    if missing:
        listed = ", ".join(inert(name, table=False) for name in missing[:MARKDOWN_ROWS])
        more = f" and {len(missing) - MARKDOWN_ROWS} more" if len(missing) > MARKDOWN_ROWS else ""
        lines += [
            "",
            f"⚠️ {len(missing)} features not in the batch (or with fewer than 2 values), "
            f"not compared: {listed}{more}.",
        ]
    drifting = [r for r in report["columns"] if r["drifted"]]
    if drifting:
        lines += [
            "",
            "| column | change | threshold | p (BH) | importance | what moved |",
            "|---|---|---|---|---|---|",
        ]
        for row in drifting[:MARKDOWN_ROWS]:
            role = " (target)" if row["role"] == "target" else ""
            lines.append(
                f"| {inert(row['column'])}{role} | {row['size']:.3f} | {row['threshold']} "
                f"| {row['p_adjusted']:.2g} | {row['weight']:.0%} | {inert(row['detail'])} |"
            )
        if len(drifting) > MARKDOWN_ROWS:
            lines.append(f"\n_{len(drifting) - MARKDOWN_ROWS} more in `{DRIFT_REPORT}`._")
    return "\n".join(lines) + "\n"


def write_reports(report: dict[str, Any]) -> None:
    """reports/drift.json and reports/drift.md."""
    DRIFT_REPORT.parent.mkdir(parents=True, exist_ok=True)
    DRIFT_REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    DRIFT_MARKDOWN.write_text(markdown(report), encoding="utf-8")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m actions_mlops drift`."""
    parser.add_argument("--batch", type=Path, help="CSV or Parquet to compare (default: data.raw)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="reference profile (default: the champion's, else the one committed at HEAD)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when the verdict is fail (default: report)"
    )


def main(args: argparse.Namespace) -> int:
    """CLI entry: write the drift reports; with --strict, exit 1 on a fail verdict."""
    params = load_params()
    if args.profile is None:
        champion = find_champion(params.registry.model, params.registry.champion_stage)
        committed = committed_profile(champion.tag if champion else None)
        profile, source = committed if committed else (None, "")
    elif args.profile.exists():
        profile, source = json.loads(args.profile.read_text(encoding="utf-8")), str(args.profile)
    else:
        profile, source = None, ""
    if profile is None:
        where = f"`{args.profile}`" if args.profile else "the champion's tag or HEAD"
        reason = (
            f"No reference profile at {where} yet: the `profile` stage writes it, and it counts "
            "once committed with its model."
        )
        write_reports({"verdict": "skipped", "reason": reason})
        print(f"drift: skipped, no reference profile at {where}")
        return 0
    batch = args.batch or params.data.raw
    report = compare(read_table(batch, load_contract()), profile, params.drift)
    report = {"batch": str(batch), "reference": source} | report
    write_reports(report)
    for row in report["columns"]:
        if row["drifted"]:
            print(f"drift: {row['column']}: {row['size']:.3f} ({row['detail']})", file=sys.stderr)
    print(f"drift: {report['verdict']}, {report['weighted_drift']:.0%} of importance drifted")
    return 1 if args.strict and report["verdict"] == "fail" else 0
