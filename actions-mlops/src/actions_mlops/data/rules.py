"""The contract's rules: one table (rule id -> what it checks, whether the contract's severity
applies, how it is compiled to a pandera check), in root-cause order. Each Check's name is its
rule id, the id reports use; validate.py explains each id."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

from actions_mlops.data.contract import Column, Contract
from actions_mlops.data.tables import as_number

# Where a rule is checked: reading the file, its header, its cells as text, the typed values of
# a column, the whole typed table.
Stage = Literal["read", "header", "text", "column", "table"]
# A compiler returns the rule's check function for a column (or the table), or None when the
# contract does not ask for the rule there.
ColumnCompiler = Callable[[Column, Contract], Callable[[pd.Series], Any] | None]
TableCompiler = Callable[[Contract], Callable[[pd.DataFrame], Any] | None]


@dataclass(frozen=True)
class Rule:
    """One rule of the contract."""

    checks: str  # what it checks, in a few words
    stage: Stage
    always_error: bool = False  # breaks training whatever severity the contract gives
    column: ColumnCompiler | None = None  # stages text and column
    table: TableCompiler | None = None  # stage table


def _within(bad: pd.Series, max_fraction: float) -> pd.Series:
    """All rows pass while the bad rows stay within the tolerated fraction; else bad rows fail."""
    return ~bad | bool(bad.mean() <= max_fraction)


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values) or values.dtype == object


def _decodes(values: pd.Series) -> pd.Series | bool:
    """False where reading replaced bytes that are not UTF-8 with U+FFFD."""
    if not _is_text(values):
        return True
    return values.isna() | ~values.astype("str").str.contains("\ufffd", regex=False)


def _numbers(column: Column, contract: Contract) -> Callable[[pd.Series], Any] | None:
    return (lambda s: s.isna() | as_number(s).notna()) if column.is_numeric else None


def _target_not_null(column: Column, contract: Contract) -> Callable[[pd.Series], Any] | None:
    return (lambda s: s.notna()) if column.name == contract.target else None


def _max_null_fraction(column: Column, contract: Contract) -> Callable[[pd.Series], Any] | None:
    limit = column.max_null_fraction
    if column.name == contract.target or limit is None:  # the target: target_not_null
        return None
    return lambda s: _within(s.isna(), limit)


def _finite(column: Column, contract: Contract) -> Callable[[pd.Series], Any] | None:
    return (lambda s: ~np.isinf(s)) if column.is_numeric else None


def _integer(column: Column, contract: Contract) -> Callable[[pd.Series], Any] | None:
    if column.dtype != "int":
        return None
    return lambda s: s.isna() | np.isinf(s) | (s == s.round())


def _range(column: Column, contract: Contract) -> Callable[[pd.Series], Any] | None:
    if column.range is None:
        return None
    low, high = (-math.inf if v is None else v for v in column.range)
    return lambda s: s.isna() | np.isinf(s) | s.between(low, high)


def _allowed_values(column: Column, contract: Contract) -> Callable[[pd.Series], Any] | None:
    if column.allowed_values is None:
        return None
    allowed, limit = list(column.allowed_values), column.max_unknown_fraction
    return lambda s: _within(s.notna() & ~s.isin(allowed), limit)


def _unique(column: Column, contract: Contract) -> Callable[[pd.Series], Any] | None:
    return (lambda s: s.isna() | ~s.duplicated()) if column.unique else None


def _labelled(frame: pd.DataFrame, target: str) -> bool:
    return target in frame.columns and bool(frame[target].notna().any())


def _min_rows(contract: Contract) -> Callable[[pd.DataFrame], Any] | None:
    return lambda d: len(d) >= contract.table.min_rows


def _max_rows(contract: Contract) -> Callable[[pd.DataFrame], Any] | None:
    limit = contract.table.max_rows
    return None if limit is None else lambda d: len(d) <= limit


def _max_duplicate_fraction(contract: Contract) -> Callable[[pd.DataFrame], Any] | None:
    limit = contract.table.max_duplicate_fraction
    return None if limit is None else lambda d: _within(d.duplicated(), limit)


def _min_classes(contract: Contract) -> Callable[[pd.DataFrame], Any] | None:
    least, target = contract.table.min_classes, contract.target
    if least is None:
        return None
    return lambda d: not _labelled(d, target) or d[target].nunique() >= least


def _min_class_fraction(contract: Contract) -> Callable[[pd.DataFrame], Any] | None:
    least, target = contract.table.min_class_fraction, contract.target
    if least is None:
        return None
    return lambda d: not _labelled(d, target) or bool(class_shares(d, contract).min() >= least)


RULES: dict[str, Rule] = {
    "file": Rule("the data file exists and has a header", "read", always_error=True),
    "csv": Rule("the CSV parses: as many fields on every line", "read", always_error=True),
    "unique_column_names": Rule("each column name once in the header", "header", True),
    "required": Rule("the columns the environment needs are present", "header", True),
    "extra_columns": Rule("no column the contract lacks (table.extra_columns)", "header"),
    "utf8": Rule("text is UTF-8", "text", True, column=lambda column, contract: _decodes),
    "number": Rule("a numeric column's cells are numbers", "text", True, column=_numbers),
    "finite": Rule("numbers are finite", "column", True, column=_finite),
    "target_not_null": Rule("every row has a label", "column", True, column=_target_not_null),
    "max_null_fraction": Rule("share of missing values", "column", column=_max_null_fraction),
    "integer": Rule("an int column holds whole numbers", "column", column=_integer),
    "range": Rule("values within [min, max]", "column", column=_range),
    "allowed_values": Rule("share of unseen categories", "column", column=_allowed_values),
    "unique": Rule("no value repeats", "column", column=_unique),
    "min_rows": Rule("enough rows", "table", True, table=_min_rows),
    "max_rows": Rule("not too many rows", "table", table=_max_rows),
    "max_duplicate_fraction": Rule(
        "share of duplicated rows", "table", table=_max_duplicate_fraction
    ),
    "min_classes": Rule("the target has enough classes", "table", True, table=_min_classes),
    "min_class_fraction": Rule(
        "every class has its share of rows", "table", table=_min_class_fraction
    ),
    # Checked by validate on the typed table (data/leakage.py), not compiled to pandera.
    "single_feature_leak": Rule("no feature alone predicts the target", "table"),
    "single_feature_near_leak": Rule("no feature alone nearly predicts the target", "table"),
}


def severity(contract: Contract, check: str, column: str | None) -> str:
    """'error' or 'warning' for a failed check: always an error for the rules that break
    training, else as the contract says for the column (or the table)."""
    rule = RULES.get(check)
    if rule is not None and rule.always_error:
        return "error"
    if check == "extra_columns":
        return "error" if contract.table.extra_columns == "fail" else "warning"
    rules = contract.columns.get(column or "", contract.table)
    return "error" if rules.severity == "error" else "warning"


def _column_checks(column: Column, contract: Contract, stage: Stage) -> list[pa.Check]:
    """The column's rules of `stage` as pandera checks; missing values are each check's
    business (they fail only the null rules)."""
    checks = []
    for rule_id, rule in RULES.items():
        function = rule.column(column, contract) if rule.stage == stage and rule.column else None
        if function is not None:
            checks.append(pa.Check(function, ignore_na=False, name=rule_id))
    return checks


def class_shares(frame: pd.DataFrame, contract: Contract) -> pd.Series:
    """Share of rows per class of the target (allowed classes that are absent count as 0)."""
    target = contract.columns[contract.target]
    shares = frame[target.name].value_counts(normalize=True)
    classes = list(dict.fromkeys([*(target.allowed_values or []), *shares.index]))
    return shares.reindex(classes).fillna(0.0)


def parse_schema(contract: Contract, environment: str = "training") -> pa.DataFrameSchema:
    """Checks on the file as read, every cell still text: the header's rules (column names,
    presence, extra columns) and the text stage's."""
    columns = {
        column.name: pa.Column(
            nullable=True,
            required=column.required_in(environment),
            checks=_column_checks(column, contract, "text"),
        )
        for column in contract.columns.values()
    }
    return pa.DataFrameSchema(columns, strict=True, unique_column_names=True)


def rules_schema(contract: Contract) -> pa.DataFrameSchema:
    """Checks on typed values (see `typed`): the column stage's rules on every column the model
    or its checks use, and the table stage's."""
    stage: Stage = "column"
    columns = {
        c.name: pa.Column(nullable=True, required=False, checks=_column_checks(c, contract, stage))
        for c in contract.columns.values()
        if c.role != "ignored"
    }
    table = [
        pa.Check(function, ignore_na=False, name=rule_id)
        for rule_id, rule in RULES.items()
        if rule.table is not None and (function := rule.table(contract)) is not None
    ]
    return pa.DataFrameSchema(columns, checks=table)
