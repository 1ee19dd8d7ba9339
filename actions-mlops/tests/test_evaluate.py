"""Plot data: bounded, since reports/plots/*.csv are committed, and still the data's shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.metrics import auc, roc_curve
from sklearn.pipeline import Pipeline

from actions_mlops.training import evaluate
from actions_mlops.training.evaluate import plot_rows, write_plots
from actions_mlops.training.metrics import Predictions


def test_a_large_test_split_gives_bounded_plots_that_keep_extremes_and_quantiles(tmp_path):
    rng = np.random.default_rng(0)
    actual = rng.lognormal(3, 1, 100_000)
    predicted = actual * rng.normal(1, 0.2, actual.size)
    model = Pipeline([("estimator", DummyRegressor())])  # regression plots need no classes
    write_plots(model, Predictions(actual, predicted), "regression", 1000, tmp_path)
    plotted = pd.read_csv(tmp_path / "predictions.csv")
    assert 990 <= len(plotted) <= 1000
    assert plotted["actual"].min() == actual.min() and plotted["actual"].max() == actual.max()
    assert plotted["predicted"].min() == predicted.min()
    assert plotted["predicted"].max() == predicted.max()
    deciles = np.linspace(0.1, 0.9, 9)
    spread = np.quantile(actual, 0.9) - np.quantile(actual, 0.1)
    gaps = np.abs(np.quantile(plotted["actual"], deciles) - np.quantile(actual, deciles))
    assert gaps.max() < 0.01 * spread
    residuals = pd.read_csv(tmp_path / "residuals.csv")
    assert len(residuals) <= 1000
    assert residuals["residual"].min() == (actual - predicted).min()
    assert residuals["residual"].max() == (actual - predicted).max()


def test_a_small_frame_is_kept_whole():
    frame = pd.DataFrame({"x": [3.0, 1.0, 2.0], "y": [1.0, 2.0, 3.0]})
    assert plot_rows(frame, "x", "y", 3).equals(frame)


def classified(rows: int, classes: int, seed: int = 0) -> tuple[Pipeline, Predictions]:
    """A fitted stand-in model (for its classes_) and noisy probabilities for `rows` rows."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, rows)
    scores = rng.normal(0, 1, (rows, classes)) + 1.5 * np.eye(classes)[truth]
    proba = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    labels = np.array([f"class {k}" for k in range(classes)])
    model = Pipeline([("estimator", DummyClassifier())]).fit(np.zeros((classes, 1)), labels)
    return model, Predictions(truth, proba.argmax(axis=1), proba)


def test_classification_plots_are_bounded_and_keep_the_curves(tmp_path):
    """100k test rows, 3 classes: each plot file holds about plot_rows rows (before: one per
    test row), the thinned ROC curves stay within a hair of the full ones, and the confusion
    sample keeps every cell's share of the test rows."""
    model, predictions = classified(100_000, 3)
    write_plots(model, predictions, "classification", 1000, tmp_path)
    assert predictions.proba is not None
    roc = pd.read_csv(tmp_path / "roc.csv")
    assert len(roc) <= 1000 and len(pd.read_csv(tmp_path / "pr.csv")) <= 1000
    grid = np.linspace(0, 1, 201)
    for k in range(3):
        fpr, tpr, _ = roc_curve(predictions.y_true == k, predictions.proba[:, k])
        thin = roc[roc["class"] == f"class {k}"]
        assert (thin["fpr"].iloc[[0, -1]].tolist(), thin["tpr"].iloc[-1]) == ([0, 1], 1)
        gap = np.abs(np.interp(grid, thin["fpr"], thin["tpr"]) - np.interp(grid, fpr, tpr))
        assert gap.max() < 0.01
        assert abs(auc(thin["fpr"], thin["tpr"]) - auc(fpr, tpr)) < 0.001
    confusion = pd.read_csv(tmp_path / "confusion.csv")
    assert 1000 <= len(confusion) <= 1009  # one row more at most for each of the 9 cells
    full = pd.crosstab(predictions.y_true, predictions.y_pred, normalize=True).to_numpy()
    sample = pd.crosstab(confusion["actual"], confusion["predicted"], normalize=True).to_numpy()
    assert np.abs(full - sample).max() < 0.002


def test_a_rare_mistake_keeps_a_row_in_the_confusion_sample():
    actual = np.array(["a"] * 50_000 + ["b"])
    predicted = np.array(["a"] * 50_000 + ["a"])  # the one "b" is missed
    sample = evaluate.confusion_rows(actual, predicted, 100)
    assert len(sample) == 100 and ((sample["actual"] == "b") & (sample["predicted"] == "a")).any()


def test_a_small_classification_split_is_kept_whole(tmp_path):
    model, predictions = classified(300, 2)
    write_plots(model, predictions, "classification", 1000, tmp_path)
    assert len(pd.read_csv(tmp_path / "confusion.csv")) == 300
    assert predictions.proba is not None
    fpr, _, _ = roc_curve(predictions.y_true == 1, predictions.proba[:, 1])
    assert len(pd.read_csv(tmp_path / "roc.csv")) == len(fpr)
