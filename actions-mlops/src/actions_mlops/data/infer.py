"""`make schema`: draft a contract from data, cautiously, for a person to review."""

from __future__ import annotations

import argparse
import math
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import balanced_accuracy_score
from sklearn.tree import DecisionTreeClassifier

from actions_mlops.core.config import (
    CONTRACT_FILE,
    TABLE_FORMATS,
    load_params,
)
from actions_mlops.core.errors import StepError
from actions_mlops.core.outputs import write_text
from actions_mlops.data.contract import (
    CATEGORICAL_DTYPES,
    MAX_CATEGORIES,
    NUMERIC_DTYPES,
    Column,
    Contract,
    Dtype,
    Role,
    TableRules,
    dump_contract,
    load_contract,
)
from actions_mlops.data.tables import read_parquet


def _round_up(fraction: float, step: float = 0.01) -> float:
    return round(math.ceil(fraction / step - 1e-9) * step, 4)


def _upper_fraction(observed: float, rows: int) -> float | None:
    """A cautious upper limit for a share seen in `rows` rows: twice the share, or four standard
    errors above it, whichever is larger (0 when never seen)."""
    if observed == 0:
        return 0.0
    spread = 4 * math.sqrt(observed * (1 - observed) / rows)
    return min(1.0, _round_up(max(2 * observed, observed + spread)))


def _widened_range(values: pd.Series) -> list[float]:
    """Observed [min, max] widened by half the span on each side (never below 0 for data that
    are never negative), rounded outwards to two significant digits of the span."""
    low, high = float(values.min()), float(values.max())
    span = high - low or abs(high) or 1.0
    step = 10 ** (math.floor(math.log10(span)) - 1)
    wide_low = low - span / 2 if low < 0 else max(low - span / 2, 0.0)
    digits = max(0, -math.floor(math.log10(step)))
    bounds = [math.floor(wide_low / step) * step, math.ceil((high + span / 2) / step) * step]
    return [int(b) if float(b).is_integer() else round(b, digits) for b in bounds]


def _infer_dtype(values: pd.Series) -> Dtype:
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_numeric_dtype(values):
        return "int" if bool((present == present.round()).all()) else "float"
    return "str"


# A text column whose values parse as dates at least this often is a date.
DATE_SHARE = 0.95
# A column that orders the rows like this, or agrees with the target this often, is a near-copy.
NEAR_COPY = 0.99


# What a date or a time looks like: year-month[-day] (2024-01, 2024/01/31), day/month/year
# (31.01.2024, 1/31/24) or a clock time (12:30, 12:30:05.1), each optionally followed by a time.
# Two numbers and a dash are not a date: count buckets (`2-10`, `11-100`) parse as one.
DATE_SHAPE = re.compile(
    r"\s*(\d{4}[-/.]\d{1,2}([-/.]\d{1,2})?|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)([ T][\d:.+\-Z ]*)?\s*"
)


def _date_share(values: pd.Series) -> float:
    """Share of a text column's values (a sample of 500) that read as dates or times."""
    present = values.dropna().astype(str)
    sample = present.sample(min(len(present), 500), random_state=0) if len(present) else present
    if sample.empty or sample.map(lambda v: bool(DATE_SHAPE.fullmatch(v))).mean() < DATE_SHARE:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return float(parsed.notna().mean())


def _cut_names_classes(values: pd.Series, target: pd.Series) -> str | None:
    """How a number with many values names the target's classes, or None: cut at one point
    fewer than there are classes (the cuts a small tree picks), its intervals give the class with
    a balanced accuracy of at least NEAR_COPY (an amount whose zero means "no", a score whose
    bands are the classes)."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    labels = target.astype(str).to_numpy()
    leaves = max(2, len(set(labels)))
    tree = DecisionTreeClassifier(max_leaf_nodes=leaves, random_state=0)
    numbers = values.astype(float).to_numpy()[:, None]
    score = balanced_accuracy_score(labels, tree.fit(numbers, labels).predict(numbers))
    if score < NEAR_COPY:
        return None
    cuts = f"{leaves - 1} point{'s' if leaves > 2 else ''}"
    return f"cut at {cuts}, its values name the target's class ({score:.1%} balanced accuracy)"


def _copies_target(values: pd.Series, target: pd.Series, task: str) -> str | None:
    """How `values` nearly copies the target, or None: a relabelling of the classes, or a
    number that orders the rows as the target does (|Spearman| >= NEAR_COPY)."""
    both = values.notna() & target.notna()
    if both.mean() < 0.5 or values[both].nunique() < 2:
        return None
    values, target = values[both], target[both]
    if task == "classification":
        if values.nunique() > 2 * target.nunique():
            return _cut_names_classes(values, target)
        agree = pd.crosstab(values.astype(str), target.astype(str)).max(axis=1).sum() / len(values)
        return (
            f"its values name the target's class on {agree:.1%} of rows"
            if agree >= NEAR_COPY
            else None
        )
    if not pd.api.types.is_numeric_dtype(values):
        return None
    rho = float(values.rank().corr(target.rank()))
    return (
        f"orders the rows as the target does (Spearman {rho:+.3f})"
        if abs(rho) >= NEAR_COPY
        else None
    )


def draft_role(values: pd.Series, target: pd.Series, task: str) -> tuple[Role, str | None]:
    """The role a column gets in a draft, and why when it is not a plain feature: columns that
    say where a row sits or copy the answer would let a model score well and learn nothing."""
    rows, present, dtype = len(values), values.dropna(), _infer_dtype(values)
    distinct = present.nunique()
    if dtype == "str" and (share := _date_share(values)) >= DATE_SHARE:
        return "ignored", (
            f"dates or times ({share:.0%} of values parse): one-hot text would memorise them; "
            "derive year, month or weekday in data/features.py if known when predicting"
        )
    if dtype == "str" and distinct == rows > 20:
        return "id", "distinct text on every row: an identifier"
    if dtype == "int" and distinct == rows > 20:
        return "id", "a distinct whole number on every row: a row number or key"
    ordered = present.is_monotonic_increasing or present.is_monotonic_decreasing
    if (
        dtype in NUMERIC_DTYPES
        and distinct > max(10, rows // 10)
        and ordered
        and len(present) == rows
    ):
        return "ignored", (
            "rises or falls with every row of the file: a row number, counter or collection time"
        )
    copy = _copies_target(values, target, task)
    if copy:
        return "ignored", f"a near-copy of the target: {copy}"
    if dtype == "str" and distinct > MAX_CATEGORIES:
        return "ignored", (
            f"{distinct} distinct text values (free text or a fine-grained code): one-hot "
            "encoding would memorise rows; encode it in data/features.py if it matters"
        )
    return "feature", None


def _infer_column(
    name: str, values: pd.Series, role: Role, task: str, reason: str | None = None
) -> Column:
    rows, present = len(values), values.dropna()
    dtype = _infer_dtype(values)
    spec: dict[str, Any] = {"max_null_fraction": _upper_fraction(values.isna().mean(), rows)}
    categorical = dtype in CATEGORICAL_DTYPES or (role == "target" and task == "classification")
    distinct = present.nunique()
    modelled = role in ("feature", "target")
    if dtype in NUMERIC_DTYPES and not categorical and len(present) and modelled:
        spec["range"] = tuple(_widened_range(present))
    if categorical and modelled and distinct <= MAX_CATEGORIES and distinct < max(rows / 2, 3):
        counts = present.value_counts()
        kind = str if dtype in CATEGORICAL_DTYPES else int if dtype == "int" else float
        plain = [kind(v) for v in counts.index]
        spec["allowed_values"] = tuple(sorted(plain, key=str))
        # Good-Turing: the share of values seen once estimates the share of unseen ones.
        singletons = float((counts == 1).sum()) / max(len(present), 1)
        spec["max_unknown_fraction"] = _round_up(2 * singletons) if singletons else 0.0
    if role == "id" and distinct == len(present):
        spec["unique"] = True
    if role == "target":
        spec.pop("max_null_fraction")
    return Column(
        name=name, dtype=dtype, role=role, reason=reason, severity="warn", inferred=True, **spec
    )


def _class_floor(smallest: float) -> float:
    """min_class_fraction for a draft: half the rarest class's share rounded down to 0.01, at
    least 0.01, and never above the rarest share itself (a class under 1% of rows: half its
    share to one significant digit), so the data it was drafted from passes."""
    half = smallest / 2
    if smallest >= 0.01:
        return max(0.01, math.floor(half * 100) / 100)
    if half <= 0:
        return 0.0
    step = 10 ** math.floor(math.log10(half))
    return float(f"{math.floor(half / step) * step:.1g}")


def infer_contract(
    frame: pd.DataFrame,
    target: str,
    task: str,
    roles: dict[str, Role] | None = None,
    reasons: dict[str, str | None] | None = None,
) -> Contract:
    """Draft a contract from data, cautiously (TFDV-like): widened ranges, category lists only
    up to MAX_CATEGORIES distinct values, every rule warning-level and marked inferred.
    `roles` keeps known roles (id, ignored) with their `reasons`; other columns get
    `draft_role`'s, with its reason."""
    known: dict[str, Role] = {**(roles or {}), target: "target"}
    columns = {}
    for name, values in frame.items():
        role, reason = known.get(str(name)), (reasons or {}).get(str(name))
        if role is None:
            role, reason = draft_role(values, frame[target], task)
        columns[str(name)] = _infer_column(str(name), values, role, task, reason)
    rows = len(frame)
    table: dict[str, Any] = {
        "min_rows": max(1, min(50, rows // 2)),
        "max_duplicate_fraction": _upper_fraction(frame.duplicated().mean(), rows) or 0.01,
        "extra_columns": "warn",
        "severity": "warn",
        "inferred": True,
    }
    if task == "classification":
        table["min_classes"] = 2
        shares = frame[target].value_counts(normalize=True)
        table["min_class_fraction"] = _class_floor(float(shares.min()))
    return Contract(columns=columns, table=TableRules(**table))


def merge_reviewed(draft: Contract, current: Contract | None) -> tuple[Contract, list[str]]:
    """The draft with every rule a person reviewed in `current` kept (a reviewed column present
    in the data; reviewed table rules), when both are for the same target; and the names kept."""
    if current is None or current.target != draft.target:
        return draft, []
    kept = [n for n, c in current.columns.items() if n in draft.columns and c.reviewed]
    columns = {n: current.columns[n] if n in kept else c for n, c in draft.columns.items()}
    table = current.table  # reviewed; else the draft's, with the row key named by hand
    if not table.reviewed:
        table = draft.table.model_copy(update={"key": current.table.key})
    return Contract(columns=columns, table=table), kept + (
        ["table"] if current.table.reviewed else []
    )


def read_data(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as pandas types it, or StepError naming the file and the problem."""
    if path.suffix not in TABLE_FORMATS:
        raise StepError(f"{path}: a table must be {' or '.join(TABLE_FORMATS)}")
    try:
        return read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except FileNotFoundError:
        raise StepError(f"{path}: no such file") from None
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise StepError(f"{path}: cannot be read as a table ({error})") from None


def draft(
    frame: pd.DataFrame, target: str, task: str, current: Contract | None
) -> tuple[Contract, list[str]]:
    """The draft contract for `target`, merged with `current`'s reviewed rules and known roles
    (same target only); and the names whose reviewed rules were kept."""
    if target not in frame.columns:
        raise StepError(
            f"no column {target!r}; the table has: {', '.join(map(str, frame.columns))}"
        )
    roles: dict[str, Role] = {}
    reasons: dict[str, str | None] = {}
    if current is not None and current.target == target:
        known = {n: c for n, c in current.columns.items() if c.role in ("id", "ignored")}
        roles = {n: c.role for n, c in known.items()}
        reasons = {n: c.reason for n, c in known.items()}
    return merge_reviewed(infer_contract(frame, target, task, roles, reasons), current)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m actions_mlops schema`."""
    parser.add_argument("--data", type=Path, help="CSV or Parquet (default: params data.raw)")
    parser.add_argument("--target", help="target column (default: the current contract's)")
    parser.add_argument("--output", type=Path, default=CONTRACT_FILE, help="contract to write")


def main(args: argparse.Namespace) -> int:
    """CLI entry (`make schema [TARGET=column]`): draft a contract from the data, keeping the
    current contract's target and reviewed rules."""
    data = args.data or load_params().data.raw
    frame = read_data(data)
    current = load_contract(CONTRACT_FILE) if CONTRACT_FILE.exists() else None
    target = args.target or (current.target if current else None)
    if target is None:
        raise StepError("no contract yet: name the target column (make schema TARGET=...)")
    contract, kept = draft(frame, target, load_params().task, current)
    write_text(args.output, dump_contract(contract))
    reviewed = f"; kept reviewed rules of {', '.join(kept)}" if kept else ""
    print(f"schema: wrote {args.output} ({len(contract.columns)} columns{reviewed})")
    for column in contract.columns.values():
        if column.reason and column.inferred:
            print(f"schema: {column.name} drafted as {column.role}: {column.reason}")
    print("schema: review the rules marked `inferred: true`")
    return 0
