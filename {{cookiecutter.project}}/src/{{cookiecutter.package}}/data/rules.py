"""The contract's rules compiled to pandera schemas; each Check's name is the rule id used in
reports."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from {{ cookiecutter.package }}.data.contract import Column, Contract
from {{ cookiecutter.package }}.data.tables import as_number


def _within(bad: pd.Series, max_fraction: float) -> pd.Series:
    """All rows pass while the bad rows stay within the tolerated fraction; else bad rows fail."""
    return ~bad | bool(bad.mean() <= max_fraction)


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
            checks.append(pa.Check(lambda s: as_number(s).notna(), name="number"))
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
