"""The data contract (contract.yaml): column names, types and roles; reading data with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from {{ cookiecutter.package }}.config import CONTRACT_FILE

NUMERIC_DTYPES = {"int", "float"}
CATEGORICAL_DTYPES = {"str", "bool"}
PANDAS_DTYPES = {"int": "float64", "float": "float64", "str": "str", "bool": "str"}


@dataclass(frozen=True)
class Column:
    """One column of the contract."""

    name: str
    dtype: str
    role: str = "feature"
    rules: dict[str, Any] = field(default_factory=dict)

    @property
    def is_numeric(self) -> bool:
        """Whether the model treats the column as a number."""
        return self.dtype in NUMERIC_DTYPES


@dataclass(frozen=True)
class Contract:
    """What the data must look like, and what each column is for."""

    columns: dict[str, Column]
    table: dict[str, Any] = field(default_factory=dict)

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


def load_contract(path: Path = CONTRACT_FILE) -> Contract:
    """Read contract.yaml, checking the parts the pipeline relies on."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    columns = {}
    for name, spec in (raw.get("columns") or {}).items():
        spec = dict(spec)
        dtype, role = spec.pop("dtype"), spec.pop("role", "feature")
        if dtype not in NUMERIC_DTYPES | CATEGORICAL_DTYPES:
            raise ValueError(f"{path}: column {name!r} has unknown dtype {dtype!r}")
        columns[str(name)] = Column(str(name), dtype, role, spec)
    targets = [c.name for c in columns.values() if c.role == "target"]
    if len(targets) != 1:
        raise ValueError(f"{path}: exactly one column needs role 'target', found {targets}")
    return Contract(columns=columns, table=raw.get("table") or {})


def read_table(path: Path, contract: Contract) -> pd.DataFrame:
    """Read a CSV or Parquet file with the contract's dtypes for the columns it knows."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        dtypes = {
            c.name: PANDAS_DTYPES[c.dtype] for c in contract.columns.values() if not c.is_numeric
        }
        frame = pd.read_csv(path, dtype=dtypes)
    return frame
