import numpy as np
import pytest
from sklearn import metrics as sk

from {{ cookiecutter.package }}.metrics import (
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
