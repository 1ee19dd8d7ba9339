"""Ingest: write the example data set that ships with scikit-learn to data/raw/dataset.csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn import datasets

from {{ cookiecutter.package }}.config import (
    RAW_DATA,
    load_params,
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


def ingest(source: str, destination: Path = RAW_DATA) -> Path:
    """Write the data named by params `data.source` ('sklearn:<name>') as CSV."""
    kind, _, name = source.partition(":")
    if kind != "sklearn":
        raise ValueError(f"params data.source must look like 'sklearn:<name>', got {source!r}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    load_example(name).to_csv(destination, index=False)
    return destination


def main() -> int:
    """CLI entry: `python -m {{ cookiecutter.package }} ingest`."""
    data = load_params().data
    if data is None:
        raise ValueError("params.yaml: data.source is missing")
    path = ingest(data.source)
    print(f"ingest: wrote {path}")
    return 0
