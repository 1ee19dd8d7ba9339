"""Tables as the pipeline reads and writes them: CSV or Parquet, typed as the contract says."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pandas as pd
import pyarrow as arrow
import pyarrow.parquet as pq

from actions_mlops.data.contract import Contract


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
            frame[column.name] = as_number(values).astype("float64")
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


def as_number(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def typed(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The frame with numeric columns as numbers (text that is no number becomes missing: the
    parse schema reports it) and repeated column names dropped."""
    return conform(frame.loc[:, ~frame.columns.duplicated()].copy(), contract, floats=True)
