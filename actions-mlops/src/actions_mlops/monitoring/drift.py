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
from dataclasses import dataclass
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
    MISSING,
    committed_profile,
    label,
    write_reference_profile,
)
from actions_mlops.release.champion import find_champion

__all__ = ["compare", "main", "write_reference_profile"]
MARKDOWN_ROWS = 40  # keeps the section well under 10 KB
EXACT_ROWS = 10_000  # scipy's ks_2samp uses its exact distribution up to this many rows
GRID_SLICE = 1 << 16  # points of the CDFs' grid handled at a time (a batch of 1M rows: 16 slices)


@dataclass(frozen=True)
class ReferenceCdf:
    """What a profile knows of a numeric column's training CDF: exact at its knots (`below`:
    the share of rows below each knot, `at`: at most it), monotone between two knots.
    `complete`: every distinct training value is a knot (the CDF is known everywhere)."""

    knots: np.ndarray
    below: np.ndarray
    at: np.ndarray
    rows: int
    complete: bool
    rtol: float  # how far a value may be from a knot and still equal it (the profile's rounding)


def reference_cdf(reference: dict[str, Any]) -> ReferenceCdf:
    """The training CDF a numeric profile describes: the exact CDF of reference.py, or, from
    a profile written before it, its 101 quantiles (a value repeated over several quantiles a
    jump; the mass between two quantiles, 1%, unknown between them)."""
    rows = int(reference["rows"])
    if "cdf" in reference:
        cdf = reference["cdf"]
        below = np.asarray(cdf["below"], dtype=float)
        at = np.asarray(cdf["at"], dtype=float)
        complete = bool(np.all(at[:-1] == below[1:]) and below[0] == 0 and at[-1] == rows)
        knots = np.asarray(cdf["values"], dtype=float)
        return ReferenceCdf(knots, below / rows, at / rows, rows, complete, 1e-9)
    quantiles = np.asarray(reference["quantiles"], dtype=float)
    probs = np.linspace(0, 1, len(quantiles))
    first = np.r_[True, quantiles[1:] != quantiles[:-1]]
    last = np.r_[quantiles[1:] != quantiles[:-1], True]
    return ReferenceCdf(quantiles[first], probs[first], probs[last], rows, False, 1e-5)


def _linear_cdf(cdf: ReferenceCdf, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference CDF at `grid` (right limits) and just below it (left limits): exact at the
    knots, linear between two (the mass between them spread evenly)."""
    knots, low, high = cdf.knots, cdf.below, cdf.at
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


def _snap(values: np.ndarray, knots: np.ndarray, rtol: float) -> np.ndarray:
    """Sorted `values`, each set to the profile's value it equals up to the profile's rounding,
    so a discrete column's batch jumps where the reference's does."""
    if len(knots) < 2:
        return np.sort(values)
    right = np.clip(np.searchsorted(knots, values), 1, len(knots) - 1)
    nearest = np.where(
        np.abs(knots[right - 1] - values) <= np.abs(knots[right] - values),
        knots[right - 1],
        knots[right],
    )
    return np.sort(np.where(np.isclose(values, nearest, rtol=rtol, atol=0), nearest, values))


def numeric_distances(values: np.ndarray, cdf: ReferenceCdf) -> tuple[float, float]:
    """(Wasserstein-1 distance, Kolmogorov-Smirnov statistic) between the finite `values` and
    the training rows as the profile knows them.

    The KS statistic is measured at the knots only, where the training CDF is exact: it is
    never larger than the two-sample statistic on the training rows and at most the largest
    mass between two knots (0.1% of the rows) smaller, so the test is never more eager than the
    exact test, at any batch size. The Wasserstein distance is the area between the batch's CDF
    and the profile's (linear between two knots: exact tails keep that error small).
    """
    batch = _snap(np.sort(values[np.isfinite(values)]), cdf.knots, cdf.rtol)
    at = np.searchsorted(batch, cdf.knots, side="right") / len(batch)
    below = np.searchsorted(batch, cdf.knots, side="left") / len(batch)
    gap = float(max(np.abs(at - cdf.at).max(), np.abs(below - cdf.below).max()))
    grid = np.union1d(batch, cdf.knots)
    area = 0.0
    for first in range(0, len(grid) - 1, GRID_SLICE):  # slices: memory bounded for any batch
        part = grid[first : first + GRID_SLICE + 1]
        expected, expected_below = _linear_cdf(cdf, part)
        above = np.searchsorted(batch, part[:-1], side="right") / len(batch)
        # Between two grid points the gap is linear, from `start` to `end`: its mean absolute
        # value is the mean of theirs, or (a² + b²) / 2(a + b) where it crosses zero.
        start, end = above - expected[:-1], above - expected_below[1:]
        a, b = np.abs(start), np.abs(end)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_gap = np.where(start * end < 0, (a**2 + b**2) / (2 * (a + b)), (a + b) / 2)
        area += float(np.diff(part) @ mean_gap)
    return area, gap


def _quantile(cdf: ReferenceCdf, share: float) -> float:
    """The reference's value at `share` of its rows (the knot where its CDF reaches it)."""
    k = int(np.searchsorted(cdf.at, share, side="left"))
    return float(cdf.knots[min(k, len(cdf.knots) - 1)])


def what_moved(finite: np.ndarray, cdf: ReferenceCdf, std: float) -> str:
    """In words: centre (median), spread (interquartile range) and tails (1% and 99%), the
    one that moved most (in reference standard deviations) first. The tails' move is what the
    centre's and the spread's do not explain (a shifted or stretched column moves its tails
    too, more than its median or its IQR: that is not news about the tails)."""
    before = [_quantile(cdf, p) for p in (0.01, 0.25, 0.5, 0.75, 0.99)]
    after = [float(v) for v in np.quantile(finite, [0.01, 0.25, 0.5, 0.75, 0.99])]
    iqr_before, iqr_after = before[3] - before[1], after[3] - after[1]
    stretch = iqr_after / iqr_before if iqr_before > 0 else 1.0
    expected = [after[2] + (before[i] - before[2]) * stretch for i in (0, 4)]  # shifted, stretched
    moves = {
        "centre": abs(after[2] - before[2]),
        "spread": abs(iqr_after - iqr_before),
        "tails": max(abs(after[0] - expected[0]), abs(after[4] - expected[1])),
    }
    most = max(moves, key=lambda k: moves[k])
    wider = "wider" if iqr_after > iqr_before else "narrower" if iqr_after < iqr_before else "same"
    return (
        f"{most} moved most ({moves[most] / (std or 1.0):.2f} SD): median {before[2]:.4g} → "
        f"{after[2]:.4g}, IQR {iqr_before:.4g} → {iqr_after:.4g} ({wider}), 1% to 99% "
        f"{before[0]:.4g} to {before[4]:.4g} → {after[0]:.4g} to {after[4]:.4g}"
    )


def numeric_drift(values: np.ndarray, reference: dict[str, Any]) -> tuple[float, float, str]:
    """(normed Wasserstein distance, two-sample KS p-value, detail) of `values` vs the profile.

    A profile that knows every training value (few distinct ones) gives the exact statistics
    (no training row lies between two knots); with both samples within EXACT_ROWS it is tested
    by scipy's two-sample functions on the training rows themselves (scipy's exact KS
    distribution). Else the KS p-value is scipy's asymptotic one for the two sample sizes, from
    the statistic at the knots (never more eager than the exact)."""
    cdf = reference_cdf(reference)
    finite = values[np.isfinite(values)]
    std = float(reference["std"] or 1.0)
    if cdf.complete and max(len(finite), cdf.rows) <= EXACT_ROWS:
        counts = np.rint((cdf.at - cdf.below) * cdf.rows).astype(int)
        batch = _snap(finite, cdf.knots, cdf.rtol)
        training = np.repeat(cdf.knots, counts)
        distance = float(stats.wasserstein_distance(training, batch))
        p_value = float(stats.ks_2samp(training, batch).pvalue)
    else:
        distance, gap = numeric_distances(values, cdf)
        effective = len(finite) * cdf.rows / (len(finite) + cdf.rows)
        p_value = float(stats.kstwo.sf(gap, max(1, round(effective))))
    return distance / std, p_value, what_moved(finite, cdf, std)


def outside_training(batch: pd.DataFrame, profile: dict[str, Any]) -> dict[str, Any]:
    """Per feature (important or not), the batch's values outside what training saw: numbers
    below its minimum or above its maximum, categories it never had; and how many rows have
    any. The model extrapolates on them whether or not they add up to drift."""
    columns: dict[str, dict[str, Any]] = {}
    outside = pd.Series(False, index=batch.index)
    for name, reference in profile["columns"].items():
        if reference["role"] != "feature" or name not in batch.columns:
            continue
        if reference["kind"] == "numeric":
            values = pd.to_numeric(batch[name], errors="coerce")
            knots = reference.get("cdf", {}).get("values") or reference["quantiles"]
            low, high = float(knots[0]), float(knots[-1])
            under, over = values < low, values > high
            if under.any() or over.any():
                columns[name] = {
                    "below": int(under.sum()),
                    "above": int(over.sum()),
                    "training_range": [low, high],
                    "batch_range": [float(values.min()), float(values.max())],
                }
                outside |= under | over
        else:
            codes, labels = labelled(batch[name])
            known = set(reference["counts"])
            unseen = np.array([text not in known for text in labels] + [False])
            new = unseen[codes] & batch[name].notna().to_numpy()  # a missing value is never new
            if new.any():
                seen = batch[name][new].astype(object).map(label).value_counts()
                columns[name] = {"new": int(new.sum()), "examples": list(seen.index[:3])}
                outside |= new
    return {"rows": int(outside.sum()), "columns": columns}


def labelled(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(codes, labels): each row's index into `labels`, the distinct values' category labels
    (reference.label), -1 for a missing value. The labels are made once per distinct value,
    not once per row: a 1M-row batch of a few categories costs its codes."""
    if values.dtype == object:  # mixed types: True == 1 == 1.0 to pandas, not to label()
        values = values.map(label)
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    return codes, [label(value) for value in distinct]


def label_counts(values: pd.Series) -> pd.Series:
    """`values.map(label).value_counts()` (the same counts, in the same order), without a label
    per row: one per distinct value, and a code per row."""
    codes, labels = labelled(values)
    index: dict[str, int] = {}  # each label's number; values with one label (1, 1.0) share it
    numbers = np.array([index.setdefault(name, len(index)) for name in [*labels, MISSING]])
    counts = pd.Series(numbers[codes]).value_counts()  # code -1 (missing): the last number
    names = list(index)
    return pd.Series(counts.to_numpy(), index=[names[n] for n in counts.index], name="count")


def categorical_drift(values: pd.Series, reference: dict[str, Any]) -> tuple[float, float, str]:
    """(Jensen-Shannon distance, chi-square p-value, detail naming the category that moved most:
    the L-infinity distance) of `values` vs the profile."""
    expected = pd.Series(reference["counts"], dtype=float)
    observed = label_counts(values).astype(float)
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
    new = [c for c in categories if expected[c] == 0 and c != MISSING]
    if new:
        kind = "category" if len(new) == 1 else "categories"
        detail += f"; {len(new)} new {kind} ({after[new].sum():.1%} of the batch)"
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
        "outside_training": outside_training(batch, profile),
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
    lines += outside_markdown(report.get("outside_training"), report["batch_rows"])
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


def outside_markdown(outside: dict[str, Any] | None, rows: int) -> list[str]:
    """Lines on inputs outside the training data's range, per feature, whatever its weight."""
    if not outside or not outside["rows"]:
        return []
    lines = [
        "",
        f"🔎 {outside['rows']} of {rows} rows have inputs outside what training saw (the "
        "model extrapolates on them; counted whether or not the feature drifts):",
        "",
        "| feature | below min | above max | new categories | training range | batch range |",
        "|---|---|---|---|---|---|",
    ]
    for name, found in sorted(outside["columns"].items())[:MARKDOWN_ROWS]:
        if "new" in found:
            examples = inert(", ".join(map(str, found["examples"])))
            lines.append(f"| {inert(name)} | | | {found['new']} (e.g. {examples}) | | |")
        else:
            low, high = found["training_range"]
            first, last = found["batch_range"]
            lines.append(
                f"| {inert(name)} | {found['below']} | {found['above']} | "
                f"| {low:.4g} to {high:.4g} | {first:.4g} to {last:.4g} |"
            )
    return lines


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
