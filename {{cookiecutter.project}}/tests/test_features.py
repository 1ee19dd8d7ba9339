"""Your features against your contract and data.

The module params.yaml `model.features` names:
src/{{ cookiecutter.package }}/features.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from actions_mlops.core.config import Params
from actions_mlops.data.contract import Contract
from actions_mlops.data.features import load_features, training_input

PACKAGE = "{{ cookiecutter.package }}"


def test_params_name_this_project_s_feature_builder(params: Params) -> None:
    assert params.model.features.startswith(f"{PACKAGE}.features:")


def test_features_turn_every_row_into_finite_numbers(
    params: Params, contract: Contract, table: pd.DataFrame
) -> None:
    build = load_features(params.model.features)
    features = build(contract, params.model.one_hot)
    rows = training_input(table, contract)
    matrix = np.asarray(features.fit_transform(rows, table[contract.target]), dtype=float)
    assert matrix.shape[0] == len(table)
    assert np.isfinite(matrix).all(), "the features leave missing or infinite values"


def test_features_read_only_the_contract_s_feature_columns(
    params: Params, contract: Contract, table: pd.DataFrame
) -> None:
    """The service passes the contract's features only: the target never reaches them."""
    features = load_features(params.model.features)(contract, params.model.one_hot)
    features.fit(training_input(table, contract), table[contract.target])
    seen = set(getattr(features, "feature_names_in_", contract.features))
    assert contract.target not in seen
    assert seen <= set(contract.features)
