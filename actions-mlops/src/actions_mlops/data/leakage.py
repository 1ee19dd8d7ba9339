"""Leakage: features that alone predict the target almost perfectly, found before training.

A column recorded after the outcome, a copy of the target or a row number of a sorted file lets
a model score well and learn nothing. Each feature alone gets a small decision tree, scored out
of fold (5-fold cross-validation): balanced accuracy for classification, R² for regression.
`make validate` reports the features at or above LEAK_SCORE as leaks, and those at or above
NEAR_LEAK_SCORE as near-leaks; the gate refuses the model while either is reported, unless
params.yaml `gate.acknowledged_leaks` names the column (or `gate.allow_leaks` is true)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from actions_mlops.data.contract import Contract

LEAK_SCORE = 0.99  # a feature alone at or above this score is reported as a leak
NEAR_LEAK_SCORE = 0.95  # at or above this (and below LEAK_SCORE): reported as a near-leak
MAX_ROWS = 20_000  # larger tables are scored on a seeded sample of this many rows


def _encoded(values: pd.Series, numeric: bool) -> np.ndarray:
    """One column as numbers a tree can split: missing values below every value, text as the
    codes of its values in sorted order."""
    if numeric:
        numbers = pd.to_numeric(values, errors="coerce").astype(float)
        low = numbers.min() if numbers.notna().any() else 0.0
        return numbers.fillna(low - 1).to_numpy()[:, None]
    codes, _ = pd.factorize(values.astype("str").where(values.notna()), sort=True)
    return codes.astype(float)[:, None]


def single_feature_scores(
    frame: pd.DataFrame, contract: Contract, task: str, seed: int = 0
) -> dict[str, float]:
    """Out-of-fold score of a small tree on each feature alone (rows with a target only)."""
    frame = frame[frame[contract.target].notna()]
    if len(frame) > MAX_ROWS:
        frame = frame.sample(n=MAX_ROWS, random_state=seed)
    target = frame[contract.target]
    if len(frame) < 20 or target.nunique() < 2:
        return {}
    if task == "classification":
        y: np.ndarray = target.astype("str").to_numpy()
        folds = min(5, int(pd.Series(y).value_counts().min()))
        if folds < 2:
            return {}
        tree = DecisionTreeClassifier(max_leaf_nodes=64, min_samples_leaf=2, random_state=seed)
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        numbers = pd.to_numeric(target, errors="coerce").astype(float)
        frame, y = frame[numbers.notna()], numbers.dropna().to_numpy()
        if len(y) < 20:
            return {}
        tree = DecisionTreeRegressor(max_leaf_nodes=64, min_samples_leaf=2, random_state=seed)
        splitter = KFold(5, shuffle=True, random_state=seed)
    scores = {}
    for name in contract.features:
        x = _encoded(frame[name], contract.columns[name].is_numeric)
        predicted = cross_val_predict(tree, x, y, cv=splitter)
        if task == "classification":
            scores[name] = float(balanced_accuracy_score(y, predicted))
        else:
            scores[name] = float(r2_score(y, predicted))
    return scores


def leaks(
    frame: pd.DataFrame, contract: Contract, task: str, threshold: float = LEAK_SCORE
) -> dict[str, float]:
    """The features that alone score at least `threshold`, best first."""
    scores = single_feature_scores(frame, contract, task)
    found = {name: score for name, score in scores.items() if score >= threshold}
    return dict(sorted(found.items(), key=lambda item: -item[1]))
