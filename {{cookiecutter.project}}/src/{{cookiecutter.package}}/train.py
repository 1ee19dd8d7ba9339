"""Train: fit one scikit-learn Pipeline (features + estimator from params), save it with skops."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import skops.io as sio
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package }}.config import (
    MODEL_FILE,
    TRAIN_SPLIT,
    ModelParams,
    load_params,
)
from {{ cookiecutter.package }}.contract import (
    Contract,
    load_contract,
    read_table,
)
from {{ cookiecutter.package }}.features import build_features

# skops refuses to load types it does not know; these prefixes are the libraries models come from.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.", "_operator.")


def make_estimator(params: ModelParams) -> Any:
    """Instantiate the estimator from its import path and keyword arguments."""
    module_name, _, class_name = params.estimator.rpartition(".")
    try:
        estimator_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"params model.estimator: cannot import {params.estimator!r}") from error
    return estimator_class(**params.params)


def build_model(contract: Contract, params: ModelParams) -> Pipeline:
    """The whole model: preprocessing from the contract, then the estimator."""
    return Pipeline([("features", build_features(contract)), ("estimator", make_estimator(params))])


def save_model(model: Pipeline, path: Path = MODEL_FILE) -> None:
    """Persist without pickle (skops), so loading cannot run arbitrary code."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)


def load_model(path: Path = MODEL_FILE) -> Pipeline:
    """Load a model saved by save_model, trusting only types from known libraries."""
    untrusted = sio.get_untrusted_types(file=path)
    unknown = [name for name in untrusted if not name.startswith(TRUSTED_PREFIXES)]
    if unknown:
        raise ValueError(f"{path}: refusing to load unknown types {unknown}")
    return sio.load(path, trusted=untrusted)


def main() -> int:
    """CLI entry: fit on data/split/train.parquet and write models/model.skops."""
    contract, params = load_contract(), load_params()
    train = read_table(TRAIN_SPLIT, contract)
    model = build_model(contract, params.model)
    model.fit(train[contract.features], train[contract.target])
    save_model(model)
    print(f"train: fitted {params.model.estimator} on {len(train)} rows -> {MODEL_FILE}")
    return 0
