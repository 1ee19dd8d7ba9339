"""Shared fixtures: the project's own contract and params, and a messy data set."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package }}.core.config import (
    Params,
    load_params,
)
from {{ cookiecutter.package }}.data.contract import (
    Column,
    Contract,
    load_contract,
)
{%- if cookiecutter.dataset != "csv" %}
from {{ cookiecutter.package }}.data.ingest import ingest
{%- endif %}
from {{ cookiecutter.package }}.data.tables import (
    read_table,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(ROOT / "contract.yaml")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's config files in a scratch folder, made the working directory."""
    for name in ("params.yaml", "contract.yaml", "dvc.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    raw = load_params(ROOT / "params.yaml").data.raw
    if (ROOT / raw).exists():
        (tmp_path / raw).parent.mkdir(parents=True)
        shutil.copy(ROOT / raw, tmp_path / raw)
    monkeypatch.chdir(tmp_path)
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))
    return tmp_path


@pytest.fixture
def project_frame(workdir: Path) -> Callable[[], pd.DataFrame]:
    """Reads the project's raw data (params data.raw) in the scratch folder{{ "; ingests it first" if cookiecutter.dataset != "csv" }}."""

    def read() -> pd.DataFrame:
        data = load_params().data
{%- if cookiecutter.dataset != "csv" %}
        if data.source is not None:  # none once `make adopt` made the data yours
            ingest(data.source, data.raw)
{%- endif %}
        return read_table(data.raw, load_contract())

    return read


@pytest.fixture
def messy() -> Callable[..., tuple[pd.DataFrame, Contract]]:
    """Builds a data set with missing values and string categories, and its contract."""
    return make_messy


def make_messy(task: str, rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, Contract]:
    """A data set with missing values and string categories, and its contract."""
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, rows)
    colour = rng.choice(["red", "green", "blue"], rows).astype(object)
    signal = size + 4 * (colour == "red") + rng.normal(0, 1, rows)
    frame = pd.DataFrame({"size": size, "colour": colour})
    frame.loc[rng.random(rows) < 0.1, "size"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "colour"] = np.nan
    if task == "classification":
        frame["label"] = np.where(signal > np.median(signal), "high", "low")
    else:
        frame["label"] = signal
    columns = {
        "size": Column("size", "float"),
        "colour": Column("colour", "str"),
        "label": Column("label", "str" if task == "classification" else "float", "target"),
    }
    return frame, Contract(columns=columns)
