"""The data contract (contract.yaml): what each column is and the rules the data must meet,
compiled to pandera schemas; `make schema` drafts a contract from the data."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Collection
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.parquet as pq
import yaml

from {{ cookiecutter.package }}.config import (
    CONTRACT_FILE,
    load_params,
)

NUMERIC_DTYPES = {"int", "float"}
CATEGORICAL_DTYPES = {"str", "bool"}
PANDAS_DTYPES = {"int": "float64", "float": "float64", "str": "str", "bool": "str"}
ROLES = ("feature", "target", "id", "ignored")
ENVIRONMENTS = ("training", "serving")
MAX_CATEGORIES = 100  # inference lists allowed values only up to this many distinct values
# Checks whose failure breaks training whatever severity the contract gives: always errors.
STRUCTURAL = {
    "file",
    "csv",
    "unique_column_names",
    "required",
    "utf8",
    "number",
    "finite",
    "target_not_null",
    "min_rows",
    "min_classes",
}
HEADER = """\
# Data contract for the raw data (params.yaml data.raw), checked by `make validate` (pandera).
# Column fields: dtype (int, float, str, bool); role (feature, target, id, ignored);
#   environments (where the column must be present; default: training and serving, the
#   target only training); max_null_fraction; range [min, max]; allowed_values with
#   max_unknown_fraction (share of unseen values tolerated); unique; severity (error, warn).
# Table fields: min_rows, max_rows, max_duplicate_fraction, min_classes and min_class_fraction
#   (class balance of the target), extra_columns (fail or warn), severity.
# `inferred: true` marks rules drafted by `make schema` (warning level): review them, delete
# the line and set `severity: error` to enforce them. Missing columns, text in numeric columns,
# infinities, missing targets, too few rows and a single class are always errors.
"""


@dataclass(frozen=True)
class Column:
    """One column of the contract and its rules (None: not checked)."""

    name: str
    dtype: str
    role: str = "feature"
    environments: tuple[str, ...] | None = None  # None: by role
    max_null_fraction: float | None = None
    range: tuple[float | None, float | None] | None = None
    allowed_values: tuple[Any, ...] | None = None
    max_unknown_fraction: float = 0.0
    unique: bool = False
    severity: str = "error"
    inferred: bool = False

    @property
    def is_numeric(self) -> bool:
        """Whether the model treats the column as a number."""
        return self.dtype in NUMERIC_DTYPES

    def required_in(self, environment: str) -> bool:
        """Whether data for `environment` must have this column."""
        default = ("training",) if self.role == "target" else ENVIRONMENTS
        return self.role != "ignored" and environment in (self.environments or default)


@dataclass(frozen=True)
class TableRules:
    """Rules about the whole table."""

    min_rows: int = 1
    max_rows: int | None = None
    max_duplicate_fraction: float | None = None
    min_classes: int | None = None
    min_class_fraction: float | None = None
    extra_columns: str = "fail"
    severity: str = "error"
    inferred: bool = False


@dataclass(frozen=True)
class Contract:
    """What the data must look like, and what each column is for."""

    columns: dict[str, Column]
    table: TableRules = field(default_factory=TableRules)

    @property
    def target(self) -> str:
        """Name of the single target column."""
        return next(c.name for c in self.columns.values() if c.role == "target")

    @property
    def features(self) -> list[str]:
        """Feature columns in contract order."""
        return [c.name for c in self.columns.values() if c.role == "feature"]

    @property
    def numeric_features(self) -> list[str]:
        """Feature columns the model treats as numbers."""
        return [n for n in self.features if self.columns[n].is_numeric]

    @property
    def categorical_features(self) -> list[str]:
        """Feature columns the model one-hot encodes."""
        return [n for n in self.features if not self.columns[n].is_numeric]

    def severity(self, check: str, column: str | None) -> str:
        """'error' or 'warning' for a failed check, from the contract's severities."""
        if check in STRUCTURAL:
            return "error"
        if check == "extra_columns":
            return "error" if self.table.extra_columns == "fail" else "warning"
        rules = self.columns.get(column or "", self.table)
        return "error" if rules.severity == "error" else "warning"


def _column(name: str, spec: dict[str, Any], source: str) -> Column:
    known = {f.name for f in fields(Column)} - {"name"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"{source}: column {name!r} has unknown fields {sorted(unknown)}")
    spec = dict(spec)
    for key in ("environments", "range", "allowed_values"):
        if spec.get(key) is not None:
            spec[key] = tuple(spec[key])
    column = Column(name, **spec)
    if column.dtype not in NUMERIC_DTYPES | CATEGORICAL_DTYPES:
        raise ValueError(f"{source}: column {name!r} has unknown dtype {column.dtype!r}")
    if column.role not in ROLES or column.severity not in ("error", "warn"):
        raise ValueError(f"{source}: column {name!r}: role is one of {ROLES}, severity error|warn")
    if column.allowed_values and not column.is_numeric:
        if any(isinstance(v, bool) for v in column.allowed_values):
            raise ValueError(
                f"{source}: column {name!r}: quote yes/no/true/false in allowed_values"
            )
        return replace(column, allowed_values=tuple(map(str, column.allowed_values)))
    return column


def parse_contract(raw: dict[str, Any], source: str = "contract") -> Contract:
    """Build a Contract from its YAML mapping, rejecting unknown fields and roles."""
    columns = {str(n): _column(str(n), spec or {}, source) for n, spec in raw["columns"].items()}
    unknown = set(raw.get("table") or {}) - {f.name for f in fields(TableRules)}
    if unknown:
        raise ValueError(f"{source}: table has unknown fields {sorted(unknown)}")
    table = TableRules(**(raw.get("table") or {}))
    if table.extra_columns not in ("fail", "warn"):
        raise ValueError(f"{source}: table.extra_columns must be fail or warn")
    targets = [c.name for c in columns.values() if c.role == "target"]
    if len(targets) != 1:
        raise ValueError(f"{source}: exactly one column needs role 'target', found {targets}")
    return Contract(columns=columns, table=table)


def load_contract(path: Path = CONTRACT_FILE) -> Contract:
    """Read contract.yaml, checking the parts the pipeline relies on."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not raw.get("columns"):
        raise ValueError(f"{path}: no columns")
    return parse_contract(raw, str(path))


class _Dumper(yaml.SafeDumper):
    """YAML writer that puts lists on one line: `range: [0, 440]`."""


_Dumper.add_representer(
    list, lambda dumper, items: dumper.represent_sequence("tag:yaml.org,2002:seq", items, True)
)


def dump_contract(contract: Contract) -> str:
    """contract.yaml text: the documentation header, then every field that differs from its
    default (dtype and role always)."""

    def changed(item: Any, default: Any, always: tuple[str, ...] = ()) -> dict[str, Any]:
        out = {}
        for f in fields(item):
            value = getattr(item, f.name)
            if f.name != "name" and (f.name in always or value != getattr(default, f.name)):
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    body = {
        "table": changed(contract.table, TableRules()),
        "columns": {
            n: changed(c, Column(n, c.dtype), ("dtype", "role"))
            for n, c in contract.columns.items()
        },
    }
    return HEADER + yaml.dump(body, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def read_table(path: Path, contract: Contract, only_contract: bool = False) -> pd.DataFrame:
    """Read a CSV or Parquet file as the pipeline expects it: the contract's text columns as
    text, its numbers as numbers, whichever the format, so the same rows give the same frame.
    `only_contract` skips the file's other columns (Parquet reads only the contract's chunks)."""
    if path.suffix != ".parquet":
        text = [c.name for c in contract.columns.values() if not c.is_numeric]
        usecols = (lambda name: name in contract.columns) if only_contract else None
        return pd.read_csv(path, usecols=usecols, dtype=dict.fromkeys(text, "str"))
    return conform(read_parquet(path, contract.columns if only_contract else None), contract)


def read_parquet(path: Path, only: Collection[str] | None = None) -> pd.DataFrame:
    """A Parquet file through pyarrow, only the columns named in `only` when given; decimals
    (common in database exports) become floats, as the same numbers in a CSV file would."""
    schema = pq.read_schema(path)
    columns = [n for n in schema.names if n in only] if only is not None else None
    frame = pd.read_parquet(path, engine="pyarrow", columns=columns)
    decimals = [f.name for f in schema if arrow.types.is_decimal(f.type) and f.name in frame]
    return frame.astype(dict.fromkeys(decimals, "float64"))


def conform(frame: pd.DataFrame, contract: Contract, floats: bool = False) -> pd.DataFrame:
    """The contract's columns of a typed frame as the pipeline reads them, in place: numbers as
    numbers (all as float64 with `floats`; text that is no number becomes missing), text as
    text; other columns untouched."""
    for column in (c for c in contract.columns.values() if c.name in frame.columns):
        values = frame[column.name]
        if column.is_numeric and (floats or not pd.api.types.is_numeric_dtype(values)):
            frame[column.name] = _as_number(values).astype("float64")
        elif not column.is_numeric and values.dtype != "str":
            frame[column.name] = as_text(values)
    return frame


def as_text(values: pd.Series) -> pd.Series:
    """Typed values as the text a CSV file holds: True/False, whole numbers without '.0' (an
    integer column with gaps arrives as floats), missing values stay missing."""
    present = values.dropna()
    if pd.api.types.is_float_dtype(values) and bool((present == present.round()).all()):
        values = values.astype("Int64")
    return values.astype("str").where(values.notna())


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` as CSV or Parquet, by the path's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


# --- pandera schemas: each Check's name is the rule id used in reports ---------------------------


def _within(bad: pd.Series, max_fraction: float) -> pd.Series:
    """All rows pass while the bad rows stay within the tolerated fraction; else bad rows fail."""
    return ~bad | bool(bad.mean() <= max_fraction)


def _as_number(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values) or values.dtype == object


def _decodes(values: pd.Series) -> pd.Series | bool:
    """False where reading replaced bytes that are not UTF-8 with U+FFFD."""
    return ~values.astype("str").str.contains("\ufffd", regex=False) if _is_text(values) else True


def _check(function: Any, name: str) -> pa.Check:
    """A pandera check named by its rule id; missing values are the function's business."""
    return pa.Check(function, ignore_na=False, name=name)


def _checks(column: Column, target: bool) -> list[pa.Check]:
    """The column's rules as pandera checks; missing values fail only the null rules."""
    checks = []
    if target:
        checks.append(_check(lambda s: s.notna(), "target_not_null"))
    elif column.max_null_fraction is not None:
        null_limit = column.max_null_fraction
        checks.append(_check(lambda s: _within(s.isna(), null_limit), "max_null_fraction"))
    if column.is_numeric:
        checks.append(_check(lambda s: ~np.isinf(s), "finite"))
    if column.dtype == "int":
        checks.append(_check(lambda s: s.isna() | np.isinf(s) | (s == s.round()), "integer"))
    if column.range is not None:
        low, high = (-math.inf if v is None else v for v in column.range)
        checks.append(_check(lambda s: s.isna() | np.isinf(s) | s.between(low, high), "range"))
    if column.allowed_values is not None:
        allowed, unknown_limit = list(column.allowed_values), column.max_unknown_fraction
        unknown = _check(
            lambda s: _within(s.notna() & ~s.isin(allowed), unknown_limit), "allowed_values"
        )
        checks.append(unknown)
    if column.unique:
        checks.append(_check(lambda s: s.isna() | ~s.duplicated(), "unique"))
    return checks


def class_shares(frame: pd.DataFrame, contract: Contract) -> pd.Series:
    """Share of rows per class of the target (allowed classes that are absent count as 0)."""
    target = contract.columns[contract.target]
    shares = frame[target.name].value_counts(normalize=True)
    classes = list(dict.fromkeys([*(target.allowed_values or []), *shares.index]))
    return shares.reindex(classes).fillna(0.0)


def _table_checks(contract: Contract) -> list[pa.Check]:
    rules, target = contract.table, contract.target

    def labelled(frame: pd.DataFrame) -> bool:
        return target in frame.columns and bool(frame[target].notna().any())

    checks = [_check(lambda d: len(d) >= rules.min_rows, "min_rows")]
    if rules.max_rows is not None:
        checks.append(_check(lambda d: len(d) <= rules.max_rows, "max_rows"))
    if rules.max_duplicate_fraction is not None:
        limit = rules.max_duplicate_fraction
        checks.append(_check(lambda d: _within(d.duplicated(), limit), "max_duplicate_fraction"))
    if rules.min_classes is not None:
        checks.append(
            _check(
                lambda d: not labelled(d) or d[target].nunique() >= rules.min_classes,
                "min_classes",
            )
        )
    if rules.min_class_fraction is not None:
        checks.append(
            _check(
                lambda d: (
                    not labelled(d)
                    or bool(class_shares(d, contract).min() >= rules.min_class_fraction)
                ),
                "min_class_fraction",
            )
        )
    return checks


def parse_schema(contract: Contract, environment: str = "training") -> pa.DataFrameSchema:
    """Checks on the file as read, every cell still text: column names, presence, encoding,
    numbers where the contract expects numbers."""
    columns = {}
    for column in contract.columns.values():
        checks = [pa.Check(_decodes, name="utf8")]
        if column.is_numeric:
            checks.append(pa.Check(lambda s: _as_number(s).notna(), name="number"))
        columns[column.name] = pa.Column(
            nullable=True, required=column.required_in(environment), checks=checks
        )
    return pa.DataFrameSchema(columns, strict=True, unique_column_names=True)


def rules_schema(contract: Contract) -> pa.DataFrameSchema:
    """Checks on typed values (see `typed`): nulls, finiteness, ranges, categories, uniqueness,
    and the table rules."""
    columns = {
        c.name: pa.Column(
            nullable=True, required=False, checks=_checks(c, c.name == contract.target)
        )
        for c in contract.columns.values()
        if c.role != "ignored"
    }
    return pa.DataFrameSchema(columns, checks=_table_checks(contract))


def typed(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The frame with numeric columns as numbers (text that is no number becomes missing: the
    parse schema reports it) and repeated column names dropped."""
    return conform(frame.loc[:, ~frame.columns.duplicated()].copy(), contract, floats=True)


# --- inference (make schema) ---------------------------------------------------------------------


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


def _infer_dtype(values: pd.Series) -> str:
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_numeric_dtype(values):
        return "int" if bool((present == present.round()).all()) else "float"
    return "str"


def _infer_column(name: str, values: pd.Series, role: str, task: str) -> Column:
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
    frame: pd.DataFrame, target: str, task: str, roles: dict[str, str] | None = None
) -> Contract:
    """Draft a contract from data, cautiously (TFDV-like): widened ranges, category lists only
    up to MAX_CATEGORIES distinct values, every rule warning-level and marked inferred.
    `roles` keeps known roles (id, ignored); text columns with a distinct value per row are ids."""
    roles = dict(roles or {}) | {target: "target"}
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
    roles: dict[str, str] = {}
    if CONTRACT_FILE.exists():
        current = load_contract(CONTRACT_FILE)
        roles = {c.name: c.role for c in current.columns.values() if c.role != "feature"}
    target = args.target or next((n for n, r in roles.items() if r == "target"), None)
    if target not in frame.columns:
        print(f"schema: no target column {target!r} in {data}; pass --target", file=sys.stderr)
        return 1
    roles = {n: r for n, r in roles.items() if r != "target"}
    contract = infer_contract(frame, target, load_params().task, roles)
    args.output.write_text(dump_contract(contract), encoding="utf-8")
    print(f"schema: wrote {args.output} ({len(contract.columns)} columns): review its rules")
    return 0
