"""Metrics: every metric equals scikit-learn's, for the point value and for each resample."""

from collections.abc import Callable

import numpy as np
import pytest
from sklearn import metrics as sk

from actions_mlops.training.metrics import (
    METRICS,
    Predictions,
    Resamples,
    bootstrap_weights,
    interval,
    score,
)

rng = np.random.default_rng(7)
y = rng.integers(0, 3, 200)
proba = rng.dirichlet([1, 1, 1], 200)
proba[np.arange(200), y] += 0.5
proba /= proba.sum(axis=1, keepdims=True)
CLASSES = Predictions(y, proba.argmax(axis=1), proba)
values = rng.normal(size=200)
REGRESSION = Predictions(values, values + rng.normal(0, 0.5, 200))


@pytest.mark.parametrize(
    ("name", "predictions", "expected"),
    [
        ("accuracy", CLASSES, sk.accuracy_score(y, proba.argmax(1))),
        ("balanced_accuracy", CLASSES, sk.balanced_accuracy_score(y, proba.argmax(1))),
        ("f1_macro", CLASSES, sk.f1_score(y, proba.argmax(1), average="macro")),
        ("log_loss", CLASSES, sk.log_loss(y, proba)),
        ("roc_auc", CLASSES, sk.roc_auc_score(y, proba, multi_class="ovr")),
        (
            "roc_auc_weighted",
            CLASSES,
            sk.roc_auc_score(y, proba, multi_class="ovr", average="weighted"),
        ),
        ("rmse", REGRESSION, sk.root_mean_squared_error(REGRESSION.y_true, REGRESSION.y_pred)),
        ("mae", REGRESSION, sk.mean_absolute_error(REGRESSION.y_true, REGRESSION.y_pred)),
        ("r2", REGRESSION, sk.r2_score(REGRESSION.y_true, REGRESSION.y_pred)),
    ],
)
def test_point_values_match_scikit_learn(name, predictions, expected):
    assert score(name, predictions)[0] == pytest.approx(expected, rel=1e-9)


def test_bootstrap_rows_are_resamples_that_match_a_weighted_metric():
    resamples = bootstrap_weights(200, 50, seed=1)
    weights = np.vstack(list(resamples.chunks()))
    assert weights.shape == (50, 200)
    assert (np.vstack(list(resamples.chunks())) == weights).all()  # the same every time
    assert (weights.sum(axis=1) == 200).all()
    expected = sk.accuracy_score(y, proba.argmax(1), sample_weight=weights[3])
    assert score("accuracy", CLASSES, weights)[3] == pytest.approx(expected)
    assert score("accuracy", CLASSES, resamples)[3] == pytest.approx(expected)


def test_resamples_are_chunked_without_changing_their_size():
    resamples = Resamples(rows=1000, count=25, seed=0, max_cells=10_000)
    chunks = list(resamples.chunks())
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert all((c.sum(axis=1) == 1000).all() for c in chunks)


def test_interval_brackets_the_point_value():
    samples = score("r2", REGRESSION, bootstrap_weights(200, 500, seed=2))
    low, high = interval(samples, 0.95)
    assert low < score("r2", REGRESSION)[0] < high


def _log_loss(p: Predictions, w: np.ndarray) -> float:
    assert p.proba is not None
    return sk.log_loss(p.y_true, p.proba, sample_weight=w, labels=range(p.proba.shape[1]))


def _auc(p: Predictions, w: np.ndarray) -> float:
    assert p.proba is not None
    scores = p.proba[:, 1] if p.proba.shape[1] == 2 else p.proba
    labels = range(p.proba.shape[1])
    return sk.roc_auc_score(p.y_true, scores, sample_weight=w, multi_class="ovr", labels=labels)


def _weighted_auc(p: Predictions, w: np.ndarray) -> float:
    assert p.proba is not None
    scores = p.proba[:, 1] if p.proba.shape[1] == 2 else p.proba
    labels = range(p.proba.shape[1])
    return sk.roc_auc_score(
        p.y_true, scores, sample_weight=w, multi_class="ovr", average="weighted", labels=labels
    )


# scikit-learn's definition of each metric (called with sample_weight) and the task it is for.
REFERENCES: dict[str, tuple[str, Callable[[Predictions, np.ndarray], float]]] = {
    "accuracy": (
        "classification",
        lambda p, w: sk.accuracy_score(p.y_true, p.y_pred, sample_weight=w),
    ),
    "balanced_accuracy": (
        "classification",
        lambda p, w: sk.balanced_accuracy_score(p.y_true, p.y_pred, sample_weight=w),
    ),
    "f1_macro": (
        "classification",
        lambda p, w: sk.f1_score(p.y_true, p.y_pred, average="macro", sample_weight=w),
    ),
    "log_loss": ("classification", _log_loss),
    "roc_auc": ("classification", _auc),
    "roc_auc_weighted": ("classification", _weighted_auc),
    "rmse": (
        "regression",
        lambda p, w: sk.root_mean_squared_error(p.y_true, p.y_pred, sample_weight=w),
    ),
    "mae": ("regression", lambda p, w: sk.mean_absolute_error(p.y_true, p.y_pred, sample_weight=w)),
    "r2": ("regression", lambda p, w: sk.r2_score(p.y_true, p.y_pred, sample_weight=w)),
}
ROWS = 150
RESAMPLES = 30


def classified(classes: int, seed: int, ties: bool) -> Predictions:
    """Random probabilities for `classes` classes; with ties, multiples of 0.1 (exact 0 and 1
    included), so many rows share a score."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, ROWS)
    gamma = rng.gamma(0.5 + np.eye(classes)[truth])  # better than chance, as a model would be
    proba = gamma / gamma.sum(axis=1, keepdims=True)
    if ties:
        proba = rng.multinomial(10, proba) / 10
    return Predictions(truth, proba.argmax(axis=1), proba)


def regressed(offset: float, seed: int) -> Predictions:
    """A random target around `offset` (spread 1) and predictions of it with noise."""
    rng = np.random.default_rng(seed)
    truth = offset + rng.normal(size=ROWS)
    return Predictions(truth, truth + rng.normal(0, 0.5, ROWS))


CASES = {
    "classification": {
        "binary": classified(2, seed=11, ties=False),
        "binary, tied scores": classified(2, seed=12, ties=True),
        "3 classes": classified(3, seed=13, ties=False),
        "3 classes, tied scores": classified(3, seed=14, ties=True),
    },
    "regression": {
        "centred target": regressed(0.0, seed=15),
        "target far from 0 (mean 1e5 x its spread)": regressed(1e5, seed=16),
    },
}


def test_every_metric_has_a_scikit_learn_reference():
    assert set(REFERENCES) == set(METRICS), "add the scikit-learn definition of each metric"


def test_the_tied_cases_have_ties_and_certain_probabilities():
    for name, p in CASES["classification"].items():
        if "tied" in name:
            assert p.proba is not None
            assert len(np.unique(p.proba[:, 1])) < ROWS / 10
            assert (p.proba == 0).any() and (p.proba == 1).any()


@pytest.mark.parametrize("name", METRICS)
def test_each_resample_equals_scikit_learn_with_sample_weight(name):
    """Row by row, for bootstrap counts (about a third of the rows weigh 0 in each resample) and
    for the point value (all weights 1), to 1e-9 relative: the same number up to rounding."""
    if name not in REFERENCES:
        pytest.fail(f"metric {name!r} has no scikit-learn reference in REFERENCES")
    task, reference = REFERENCES[name]
    resamples = np.vstack(list(bootstrap_weights(ROWS, RESAMPLES, seed=3).chunks()))
    weights = np.vstack([np.ones(ROWS), resamples])
    assert (resamples == 0).mean() > 0.3
    for case, predictions in CASES[task].items():
        ours = score(name, predictions, weights)
        theirs = np.array([reference(predictions, row) for row in weights])
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=0, err_msg=f"{name}, {case}")
