"""This project's data and settings, as the pipeline reads them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from actions_mlops.core.config import Params, load_params
from actions_mlops.data.contract import Contract, load_contract
from actions_mlops.data.ingest import ingest
from actions_mlops.data.tables import read_table

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(ROOT / "contract.yaml")


@pytest.fixture(scope="session")
def table(
    params: Params, contract: Contract, tmp_path_factory: pytest.TempPathFactory
) -> pd.DataFrame:
    """The raw data (params data.raw): an example data set is ingested into a scratch folder;
    a table not here (DVC-tracked and not pulled) skips the tests that need it."""
    raw = ROOT / params.data.raw
    if params.data.source is not None:
        raw = tmp_path_factory.mktemp("raw") / params.data.raw.name
        ingest(params.data.source, raw)
    if not raw.is_file():
        pytest.skip(f"{params.data.raw} is not here: `make pull` (or `dvc pull`) first")
    return read_table(raw, contract)
