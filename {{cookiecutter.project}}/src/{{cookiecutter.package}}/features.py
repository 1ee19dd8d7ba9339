"""Features: the preprocessing half of the model, built from the contract's column kinds."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from {{ cookiecutter.package }}.contract import Contract


def build_features(contract: Contract) -> ColumnTransformer:
    """Impute and scale numbers; impute and one-hot encode categories (unknown ones ignored)."""
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, contract.numeric_features),
            ("categorical", categorical, contract.categorical_features),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
