"""Reference profile: a small summary of the training data (per numeric column its exact
empirical CDF at up to about 1,100 knots, counts per category, row count, the model's feature
importance). The `profile` pipeline stage writes it and git keeps it next to the metrics, so
every registered version carries the profile of its own training data and drift can be measured
later without the old raw data.

A numeric column's `cdf` holds training values (`values`, sorted) and, for each, how many
training rows are below it and at most it (`below`, `at`): exact at every knot, so a test
against the profile is the two-sample test against the training rows up to the mass between two
knots. Knots are every distinct value when there are at most KNOTS of them; else the values at
KNOTS evenly spaced ranks plus the TAIL smallest and largest values, so a long tail is kept as
it is (a profile of 101 quantiles with the top 1% spread evenly up to the maximum made the
training split differ from its own profile by 0.117 SD on a long-tailed column)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from actions_mlops.core.config import (
    IMPORTANCE_FILE,
    PROFILE_FILE,
    TRAIN_SPLIT,
)
from actions_mlops.core.git import show_file
from actions_mlops.core.outputs import write_text
from actions_mlops.data.contract import (
    Column,
    Contract,
    load_contract,
)
from actions_mlops.data.tables import (
    read_table,
)

QUANTILES = 101  # 0%, 1%, ..., 100%: for people (the model card), not for the tests
KNOTS = 1001  # evenly spaced ranks of the exact CDF: at most 0.1% of the rows between two
TAIL = 50  # the smallest and largest values kept exactly
MAX_LEVELS = 20  # numeric columns with at most this many distinct values are profiled as categories
MAX_CATEGORIES = 200  # more distinct values than this: an identifier, not profiled
MISSING = "(missing)"


def label(value: Any) -> str:
    """The category label of a value, the same for 1, 1.0 and '1.0' read from CSV or Parquet."""
    if pd.isna(value):
        return MISSING
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return f"{float(value):.10g}"
    return str(value)


def is_numeric_profile(values: pd.Series, column: Column) -> bool:
    """Numbers with more than MAX_LEVELS distinct values are compared as distributions."""
    return column.is_numeric and values.nunique() > MAX_LEVELS


def exact_cdf(finite: np.ndarray) -> dict[str, list]:
    """The empirical CDF of `finite` at its knots: values (10 significant digits), and how many
    values are below each and at most each (see the module's docstring)."""
    ordered = np.sort(finite)
    distinct = np.unique(ordered)
    if len(distinct) > KNOTS:
        n = len(ordered)
        ranks = np.linspace(0, n - 1, KNOTS).round().astype(int)
        tails = np.r_[np.arange(min(TAIL, n)), np.arange(max(n - TAIL, 0), n)]
        distinct = np.unique(ordered[np.union1d(ranks, tails)])
    below = np.searchsorted(ordered, distinct, side="left")
    at = np.searchsorted(ordered, distinct, side="right")
    return {
        "values": [float(f"{v:.10g}") for v in distinct],
        "below": below.tolist(),
        "at": at.tolist(),
    }


def profile_column(values: pd.Series, column: Column) -> dict[str, Any] | None:
    """The exact CDF (and quantiles, spread) of a numeric column, or counts per category
    (None: not profiled)."""
    if is_numeric_profile(values, column):
        finite = values[np.isfinite(values)].to_numpy(dtype=float)
        quantiles = np.quantile(finite, np.linspace(0, 1, QUANTILES))
        return {
            "kind": "numeric",
            "rows": len(finite),
            "missing": int(values.isna().sum()),
            "std": float(finite.std(ddof=1)),
            "quantiles": [float(f"{q:.6g}") for q in quantiles],
            "cdf": exact_cdf(finite),
        }
    counts = values.map(label).value_counts()
    if len(counts) > MAX_CATEGORIES:
        return None
    return {"kind": "categorical", "rows": len(values), "counts": counts.astype(int).to_dict()}


def importance_shares(features: list[str], importance: list[dict] | None) -> dict[str, float]:
    """Each feature's share of the model's permutation importance (negative counts as 0);
    equal shares when importance is unknown."""
    scores = {row["feature"]: max(0.0, float(row["importance"])) for row in importance or []}
    total = sum(scores.get(f, 0.0) for f in features)
    if total <= 0:
        return {f: round(1 / len(features), 6) for f in features}
    return {f: round(scores.get(f, 0.0) / total, 6) for f in features}


def build_profile(
    frame: pd.DataFrame, contract: Contract, importance: list[dict] | None = None
) -> dict[str, Any]:
    """The profile of `frame`: features and target, ids and ignored columns left out."""
    columns = {}
    for column in contract.columns.values():
        # A personal (`pii`) column is not profiled: its values would be committed, and the
        # prediction log masks them anyway.
        wanted = column.role in ("feature", "target") and not column.pii
        if wanted and column.name in frame.columns:
            profiled = profile_column(frame[column.name], column)
            if profiled is not None:
                columns[column.name] = profiled | {"role": column.role}
    features = [n for n in contract.features if n in columns]
    return {
        "rows": len(frame),
        "columns": columns,
        "importance": importance_shares(features, importance),
    }


def write_reference_profile(
    data: Path = TRAIN_SPLIT,
    path: Path = PROFILE_FILE,
    importance_file: Path = IMPORTANCE_FILE,
    contract: Contract | None = None,
) -> Path:
    """Profile the training data (with the importance evaluate wrote, when present) to `path`."""
    contract = contract or load_contract()
    importance = None
    if importance_file.exists():
        importance = json.loads(importance_file.read_text(encoding="utf-8"))
    profile = {"data": str(data)} | build_profile(read_table(data, contract), contract, importance)
    write_text(path, dumps(profile))
    return path


def dumps(profile: dict[str, Any]) -> str:
    """The profile as JSON, indented, with each list of numbers on one line (a reviewable diff
    instead of one line per knot)."""
    text = json.dumps(profile, indent=1)
    return (
        re.sub(
            r"\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]",
            lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]",
            text,
        )
        + "\n"
    )


def committed_profile(champion_tag: str | None) -> tuple[dict[str, Any], str] | None:
    """(profile, where from) of the model in production: the profile as committed at the
    champion's tag, else at HEAD (the last merged model); None when there is none.
    Not the working copy: `make repro` rewrites it with the candidate's own data."""
    for rev in (champion_tag, "HEAD"):
        text = show_file(rev, PROFILE_FILE) if rev else None
        if text:
            return json.loads(text), f"{rev}:{PROFILE_FILE}"
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m actions_mlops profile`."""
    parser.add_argument("--data", type=Path, default=TRAIN_SPLIT, help="training data to profile")
    parser.add_argument("--output", type=Path, default=PROFILE_FILE, help="profile to write")


def main(args: argparse.Namespace) -> int:
    """CLI entry: write the reference profile of the training data."""
    path = write_reference_profile(args.data, args.output)
    print(f"profile: wrote {path} from {args.data}")
    return 0
