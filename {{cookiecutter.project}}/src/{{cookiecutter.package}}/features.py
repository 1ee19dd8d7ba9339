"""Features: the preprocessing half of the model (params.yaml `model.features` names
`build_features`). Yours to change: `make repro` retrains when this file changes.

The default imputes and scales numbers and one-hot encodes text columns, as the contract
(contract.yaml) classifies them. Return any scikit-learn transformer built from the contract:
the service runs the fitted model as it is; it compiles the default's preprocessing into
NumPy when it recognises it (faster), and runs yours through scikit-learn otherwise.
"""

from __future__ import annotations

from actions_mlops.core.config import OneHotParams
from actions_mlops.data.contract import Contract
from actions_mlops.data.features import default_features
from sklearn.compose import ColumnTransformer


def build_features(contract: Contract, one_hot: OneHotParams) -> ColumnTransformer:
    """The columns the model sees, built from the contract's column kinds."""
    return default_features(contract, one_hot)
