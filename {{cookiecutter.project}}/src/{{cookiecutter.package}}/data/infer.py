"""`make schema`: draft a contract from data, cautiously, for a person to review."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from {{ cookiecutter.package }}.core.config import CONTRACT_FILE, load_params
from {{ cookiecutter.package }}.data.contract import (
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
from {{ cookiecutter.package }}.data.tables import read_parquet


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


def _infer_column(name: str, values: pd.Series, role: Role, task: str) -> Column:
    rows, present = len(values), values.dropna()
    dtype = _infer_dtype(values)
    spec: dict[str, Any] = {"max_null_fraction": _upper_fraction(values.isna().mean(), rows)}
    categorical = dtype in CATEGORICAL_DTYPES or (role == "target" and task == "classification")
    distinct = present.nunique()
    if dtype in NUMERIC_DTYPES and not categorical and len(present):
        spec["range"] = tuple(_widened_range(present))
    if categorical and role != "id" and distinct <= MAX_CATEGORIES and distinct < max(rows / 2, 3):
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
    return Column(name, dtype, role, severity="warn", inferred=True, **spec)


def infer_contract(
    frame: pd.DataFrame, target: str, task: str, roles: dict[str, Role] | None = None
) -> Contract:
    """Draft a contract from data, cautiously (TFDV-like): widened ranges, category lists only
    up to MAX_CATEGORIES distinct values, every rule warning-level and marked inferred.
    `roles` keeps known roles (id, ignored); text columns with a distinct value per row are ids."""
    roles = {**(roles or {}), target: "target"}
    columns = {}
    for name, values in frame.items():
        role = roles.get(str(name))
        if role is None:
            unique_text = _infer_dtype(values) == "str" and values.nunique() == len(values) > 20
            role = "id" if unique_text else "feature"
        columns[str(name)] = _infer_column(str(name), values, role, task)
    rows = len(frame)
    table: dict[str, Any] = {
        "min_rows": max(1, min(50, rows // 2)),
        "max_duplicate_fraction": _upper_fraction(frame.duplicated().mean(), rows) or 0.01,
        "extra_columns": "warn",
        "severity": "warn",
        "inferred": True,
    }
    if task == "classification":
        smallest = frame[target].value_counts(normalize=True).min()
        table["min_classes"] = 2
        table["min_class_fraction"] = max(0.01, math.floor(smallest / 2 * 100) / 100)
    return Contract(columns=columns, table=TableRules(**table))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m {{ cookiecutter.package }} schema`."""
    parser.add_argument("--data", type=Path, help="CSV or Parquet (default: params data.raw)")
    parser.add_argument("--target", help="target column (default: the current contract's)")
    parser.add_argument("--output", type=Path, default=CONTRACT_FILE, help="contract to write")


def main(args: argparse.Namespace) -> int:
    """CLI entry (`make schema`): draft a contract from the data, keeping the current contract's
    target, id and ignored columns."""
    data = args.data or load_params().data.raw
    frame = read_parquet(data) if data.suffix == ".parquet" else pd.read_csv(data)
    roles: dict[str, Role] = {}
    if CONTRACT_FILE.exists():
        current = load_contract(CONTRACT_FILE)
        roles = {c.name: c.role for c in current.columns.values() if c.role != "feature"}
    target = args.target or next((n for n, r in roles.items() if r == "target"), None)
    if target is None or target not in frame.columns:
        print(f"schema: no target column {target!r} in {data}; pass --target", file=sys.stderr)
        return 1
    roles = {n: r for n, r in roles.items() if r != "target"}
    contract = infer_contract(frame, target, load_params().task, roles)
    args.output.write_text(dump_contract(contract), encoding="utf-8")
    print(f"schema: wrote {args.output} ({len(contract.columns)} columns): review its rules")
    return 0
