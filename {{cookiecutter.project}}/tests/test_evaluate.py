"""Plot data: bounded, since reports/plots/*.csv are committed, and still the data's shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package }}.training.evaluate import plot_rows, write_plots
from {{ cookiecutter.package }}.training.metrics import Predictions


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
