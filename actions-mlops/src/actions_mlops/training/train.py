"""Train: fit one scikit-learn Pipeline (features + estimator from params), save it with skops."""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from actions_mlops.core.config import (
    MODEL_FILE,
    TRAIN_SPLIT,
    ModelParams,
    load_params,
)
from actions_mlops.core.modelfile import save_model
from actions_mlops.core.outputs import replacing
from actions_mlops.data.contract import (
    Contract,
    load_contract,
)
from actions_mlops.data.features import (
    load_features,
    training_input,
)
from actions_mlops.data.tables import (
    read_table,
)
from actions_mlops.training.estimator import build_estimator


def build_model(contract: Contract, params: ModelParams) -> Pipeline:
    """The whole model: preprocessing from the contract, then the estimator."""
    return Pipeline(
        [
            ("features", load_features(params.features)(contract, params.one_hot)),
            ("estimator", build_estimator(params)),
        ]
    )


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
