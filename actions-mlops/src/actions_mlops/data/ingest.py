"""Ingest: write the example data set that ships with scikit-learn to the raw data path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn import datasets

from actions_mlops.core.config import load_params
from actions_mlops.data.tables import (
    write_table,
)

LOADERS = {
    "breast_cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "diabetes": datasets.load_diabetes,
}


def load_example(name: str) -> pd.DataFrame:
    """The bundled data set `name` as one frame whose last column is `target`."""
    if name not in LOADERS:
        raise ValueError(f"unknown example data set {name!r}; known: {', '.join(LOADERS)}")
    return LOADERS[name](as_frame=True).frame


def ingest(source: str, destination: Path) -> Path:
    """Write the data named by params `data.source` ('sklearn:<name>') as CSV or Parquet."""
    kind, _, name = source.partition(":")
    if kind != "sklearn":
        raise ValueError(f"params data.source must look like 'sklearn:<name>', got {source!r}")
    return write_table(load_example(name), destination)


def main() -> int:
    """CLI entry: `python -m actions_mlops ingest`."""
    data = load_params().data
    if data.source is None:
        raise ValueError("params.yaml: data.source is missing")
    path = ingest(data.source, data.raw)
    print(f"ingest: wrote {path}")
    return 0
