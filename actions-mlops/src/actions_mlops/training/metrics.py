"""Metrics as functions of per-row weights, so one definition gives the point value and every
bootstrap resample at once (a resample is a row of counts: how often each test row was drawn)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from actions_mlops.core.typed import Range


@dataclass(frozen=True)
class Predictions:
    """What a model said about the test split, encoded for the metric functions."""

    y_true: np.ndarray  # class index (classification) or value (regression)
    y_pred: np.ndarray
    proba: np.ndarray | None = None  # (rows, classes) for classification


Metric = Callable[[Predictions, np.ndarray], np.ndarray]
EPS = np.finfo(float).eps  # probabilities are clipped to [EPS, 1 - EPS], as scikit-learn does


def _weighted_mean(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    return (weights @ values) / weights.sum(axis=1)


def accuracy(p: Predictions, w: np.ndarray) -> np.ndarray:
    """Share of rows predicted right."""
    return _weighted_mean(w, (p.y_true == p.y_pred).astype(float))


def balanced_accuracy(p: Predictions, w: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present."""
    classes = np.unique(p.y_true)
    truth = (p.y_true[:, None] == classes).astype(float)
    hits = truth * (p.y_pred == p.y_true)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = (w @ hits) / (w @ truth)
    return np.nanmean(recall, axis=1)


def f1_macro(p: Predictions, w: np.ndarray) -> np.ndarray:
    """Unweighted mean of per-class F1."""
    classes = np.union1d(p.y_true, p.y_pred)
    truth = (p.y_true[:, None] == classes).astype(float)
    said = (p.y_pred[:, None] == classes).astype(float)
    tp, fp, fn = w @ (truth * said), w @ ((1 - truth) * said), w @ (truth * (1 - said))
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1.mean(axis=1)


def probabilities(p: Predictions, metric: str) -> np.ndarray:
    """The class probabilities `metric` needs; ValueError when the predictions have none."""
    if p.proba is None:
        raise ValueError(f"{metric} needs class probabilities (a classification model's)")
    return p.proba


def log_loss(p: Predictions, w: np.ndarray) -> np.ndarray:
    """Mean negative log-probability of the true class."""
    proba = probabilities(p, "log_loss")
    picked = np.clip(proba[np.arange(len(p.y_true)), p.y_true], EPS, 1 - EPS)
    return _weighted_mean(w, -np.log(picked))


def _binary_auc(positive: np.ndarray, scores: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUC for every row of weights at once (ties count half)."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ordered = w[:, order]  # one gather, the costliest step on large test splits
    pos = np.add.reduceat(ordered * positive[order], starts, axis=1)
    neg = np.add.reduceat(ordered, starts, axis=1) - pos  # exact for whole-number weights
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def roc_auc(p: Predictions, w: np.ndarray) -> np.ndarray:
    """Area under the ROC curve (one-vs-rest macro average for more than two classes)."""
    proba = probabilities(p, "roc_auc")
    if proba.shape[1] == 2:
        return _binary_auc(p.y_true == 1, proba[:, 1], w)
    per_class = [_binary_auc(p.y_true == k, proba[:, k], w) for k in range(proba.shape[1])]
    return np.mean(per_class, axis=0)


def roc_auc_weighted(p: Predictions, w: np.ndarray) -> np.ndarray:
    """One-vs-rest ROC AUC averaged with each class weighted by its share of the (resampled)
    rows: a class of a few test rows moves it by its share, not by 1/classes as the macro
    average (`roc_auc`) does. The same as roc_auc for two classes."""
    proba = probabilities(p, "roc_auc_weighted")
    if proba.shape[1] == 2:
        return _binary_auc(p.y_true == 1, proba[:, 1], w)
    classes = range(proba.shape[1])
    per_class = np.stack([_binary_auc(p.y_true == k, proba[:, k], w) for k in classes], axis=1)
    support = w @ (p.y_true[:, None] == np.arange(proba.shape[1])).astype(float)
    present = np.isfinite(per_class) & (support > 0)
    weights = np.where(present, support, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(present, per_class, 0.0) * weights).sum(axis=1) / weights.sum(axis=1)


def rmse(p: Predictions, w: np.ndarray) -> np.ndarray:
    """Root mean squared error."""
    return np.sqrt(_weighted_mean(w, (p.y_true - p.y_pred) ** 2))


def mae(p: Predictions, w: np.ndarray) -> np.ndarray:
    """Mean absolute error."""
    return _weighted_mean(w, np.abs(p.y_true - p.y_pred))


def r2(p: Predictions, w: np.ndarray) -> np.ndarray:
    """Coefficient of determination."""
    total = w.sum(axis=1)
    sse = w @ ((p.y_true - p.y_pred) ** 2)
    # Centred first: a target whose mean dwarfs its spread would cancel to noise otherwise.
    centred = p.y_true - p.y_true.mean()
    sst = w @ (centred**2) - (w @ centred) ** 2 / total
    return 1 - sse / sst


METRICS: dict[str, tuple[Metric, str]] = {
    "accuracy": (accuracy, "higher"),
    "balanced_accuracy": (balanced_accuracy, "higher"),
    "f1_macro": (f1_macro, "higher"),
    "roc_auc": (roc_auc, "higher"),
    "roc_auc_weighted": (roc_auc_weighted, "higher"),
    "log_loss": (log_loss, "lower"),
    "rmse": (rmse, "lower"),
    "mae": (mae, "lower"),
    "r2": (r2, "higher"),
}


# The values each metric can take: a gate floor or ceiling outside them always or never passes.
RANGES: dict[str, Range] = {
    "accuracy": Range(0, 1),
    "balanced_accuracy": Range(0, 1),
    "f1_macro": Range(0, 1),
    "roc_auc": Range(0, 1),
    "roc_auc_weighted": Range(0, 1),
    "log_loss": Range(0),
    "rmse": Range(0),
    "mae": Range(0),
    "r2": Range(high=1),
}


def direction(name: str) -> str:
    """'higher' or 'lower': which way the metric is better."""
    return METRICS[name][1]


@dataclass(frozen=True)
class Resamples:
    """Seeded bootstrap resamples of the test rows, made in chunks so memory stays bounded
    (a chunk is a matrix of counts: how often each row was drawn in each resample)."""

    rows: int
    count: int
    seed: int
    max_cells: int = 4_000_000

    def chunks(self) -> Iterator[np.ndarray]:
        """The same resamples every time: candidate and champion are scored on identical ones."""
        rng = np.random.default_rng(self.seed)
        size = max(1, self.max_cells // max(self.rows, 1))
        for start in range(0, self.count, size):
            n = min(size, self.count - start)
            draws = (
                rng.integers(0, self.rows, size=(n, self.rows)) + np.arange(n)[:, None] * self.rows
            )
            counts = np.bincount(draws.ravel(), minlength=n * self.rows)
            yield counts.reshape(n, self.rows).astype(float)


def bootstrap_weights(rows: int, resamples: int, seed: int) -> Resamples:
    """Bootstrap resamples of `rows` test rows."""
    return Resamples(rows, resamples, seed)


def score(
    name: str, predictions: Predictions, weights: np.ndarray | Resamples | None = None
) -> np.ndarray:
    """Metric value for each row of weights or each resample (no weights: the point value)."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    metric = METRICS[name][0]
    if weights is None:
        return metric(predictions, np.ones((1, len(predictions.y_true))))
    if isinstance(weights, Resamples):
        return np.concatenate([metric(predictions, chunk) for chunk in weights.chunks()])
    return metric(predictions, weights)


def score_all(
    names: list[str], predictions: Predictions, weights: Resamples
) -> dict[str, np.ndarray]:
    """Every metric in `names` for each resample, drawing each chunk of resamples once (the same
    values as `score` per metric, which would draw them again for every metric)."""
    for name in names:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    samples: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for chunk in weights.chunks():
        for name in names:
            samples[name].append(METRICS[name][0](predictions, chunk))
    return {name: np.concatenate(parts) for name, parts in samples.items()}


def interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of bootstrap samples, ignoring failed resamples."""
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(samples, [alpha, 1 - alpha])
    return float(low), float(high)
