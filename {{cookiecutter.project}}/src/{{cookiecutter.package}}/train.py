"""Train: fit one scikit-learn Pipeline (features + estimator from params), save it with skops."""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline

from {{ cookiecutter.package }} import checks
from {{ cookiecutter.package }}.config import (
    MODEL_FILE,
    TRAIN_SPLIT,
    ModelParams,
    load_params,
)
from {{ cookiecutter.package }}.contract import (
    Contract,
    load_contract,
)
from {{ cookiecutter.package }}.features import (
    build_features,
    training_input,
)
from {{ cookiecutter.package }}.modelfile import save_model
from {{ cookiecutter.package }}.outputs import replacing
from {{ cookiecutter.package }}.tables import (
    read_table,
)
from {{ cookiecutter.package }}.typed import ConfigError


def make_estimator(params: ModelParams) -> Any:
    """Instantiate the estimator from its import path and keyword arguments."""
    estimator, problems = checks.make_estimator(params)
    if problems:
        raise ConfigError(problems)
    return estimator


def build_model(contract: Contract, params: ModelParams) -> Pipeline:
    """The whole model: preprocessing from the contract, then the estimator."""
    return Pipeline([("features", build_features(contract)), ("estimator", make_estimator(params))])


def main() -> int:
    """CLI entry: fit on data/split/train.parquet and write models/model.skops."""
    contract, params = load_contract(), load_params()
    train = read_table(TRAIN_SPLIT, contract)
    model = build_model(contract, params.model)
    model.fit(training_input(train, contract), train[contract.target])
    with replacing(MODEL_FILE) as temporary:  # a failed run keeps the last good model file
        save_model(model, temporary)
    print(f"train: fitted {params.model.estimator} on {len(train)} rows -> {MODEL_FILE}")
    return 0
