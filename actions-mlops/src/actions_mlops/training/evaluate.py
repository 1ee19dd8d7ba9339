"""Evaluate: metrics with bootstrap intervals, slices, permutation importance and plot data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import precision_recall_curve, roc_curve
from sklearn.pipeline import Pipeline

from actions_mlops.core.config import (
    IMPORTANCE_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PLOTS_DIR,
    SLICES_FILE,
    TEST_SPLIT,
    EvaluateParams,
    load_params,
)
from actions_mlops.core.modelfile import load_model
from actions_mlops.core.outputs import write_text
from actions_mlops.data.contract import (
    Contract,
    load_contract,
)
from actions_mlops.data.tables import (
    read_table,
)
from actions_mlops.training.metrics import (
    Predictions,
    bootstrap_weights,
    interval,
    score,
    score_all,
)

# Permutation importance predicts the test rows (features x repeats) times: above this many rows
# it uses a seeded sample of them, which ranks features as well at a fraction of the time.
IMPORTANCE_MAX_ROWS = 10_000
# scikit-learn scorer for each metric, used by permutation importance.
SCORERS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "f1_macro": "f1_macro",
    "roc_auc": "roc_auc_ovr",
    "roc_auc_weighted": "roc_auc_ovr_weighted",
    "log_loss": "neg_log_loss",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}


def predict(model: Pipeline, frame: pd.DataFrame, contract: Contract, task: str) -> Predictions:
    """Encode the model's answers on `frame` for the metric functions."""
    # The model selects its own columns by name, so a champion trained on an older contract works.
    features, truth = frame.drop(columns=[contract.target]), frame[contract.target].to_numpy()
    if task == "regression":
        return Predictions(truth.astype(float), model.predict(features).astype(float))
    classes = list(model.classes_)
    index = {label: i for i, label in enumerate(classes)}
    unknown = set(truth) - set(index)
    if unknown:
        raise ValueError(f"test split has classes the model never saw: {sorted(map(str, unknown))}")
    proba = model.predict_proba(features)
    return Predictions(np.array([index[t] for t in truth]), proba.argmax(axis=1), proba)


def metric_table(predictions: Predictions, params: EvaluateParams) -> dict[str, dict[str, float]]:
    """Point value and bootstrap interval of every metric named in params."""
    boot = params.bootstrap
    weights = bootstrap_weights(len(predictions.y_true), boot.resamples, boot.seed)
    samples = score_all(params.metrics, predictions, weights)
    table = {}
    for name in params.metrics:
        low, high = interval(samples[name], boot.confidence)
        table[name] = {"value": float(score(name, predictions)[0]), "ci_low": low, "ci_high": high}
    return table


def slice_table(
    frame: pd.DataFrame, predictions: Predictions, columns: list[str], metrics: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Point metrics per value of each slice column (numbers cut into quartiles)."""
    slices: dict[str, list[dict[str, Any]]] = {}
    for column in columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and values.nunique() > 10:
            bins = pd.qcut(values, 4, duplicates="drop")
            values = bins.map(lambda b: f"{b.left:.4g} to {b.right:.4g}")
        if isinstance(values.dtype, pd.CategoricalDtype):  # quartiles, in order
            levels = list(values.cat.categories)
        else:
            levels = sorted(values.dropna().unique(), key=str)
        groups = []
        for value in levels:
            mask = (values == value).to_numpy()
            weights = mask[None, :].astype(float)
            row: dict[str, Any] = {"value": str(value), "rows": int(mask.sum())}
            for name in metrics:
                row[name] = float(score(name, predictions, weights)[0])
            groups.append(row)
        slices[column] = groups
    return slices


def importance(
    model: Pipeline,
    frame: pd.DataFrame,
    contract: Contract,
    metric: str,
    seed: int,
    top: int = 15,
    max_rows: int = IMPORTANCE_MAX_ROWS,
) -> list[dict[str, float | str]]:
    """Permutation importance on the test split (a seeded sample of `max_rows` rows when it is
    larger), by drop in the primary metric, largest first."""
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    result = permutation_importance(
        model,
        frame[contract.features],
        frame[contract.target],
        scoring=SCORERS[metric],
        n_repeats=5,
        random_state=seed,
        n_jobs=1,
    )
    order = np.argsort(-result.importances_mean)[:top]
    return [
        {
            "feature": contract.features[i],
            "importance": float(result.importances_mean[i]),
            "std": float(result.importances_std[i]),
        }
        for i in order
    ]


def plot_rows(frame: pd.DataFrame, x: str, y: str, max_rows: int) -> pd.DataFrame:
    """At most `max_rows` rows of a scatter's data that still show its shape: the rows at evenly
    spaced ranks of `x` (quantiles: the smallest and largest `x` included), plus the rows of the
    smallest and largest `y`, in `x` order. A frame within the limit is returned whole."""
    if len(frame) <= max_rows:
        return frame
    order = frame[x].to_numpy().argsort(kind="stable")
    ranks = np.linspace(0, len(frame) - 1, max_rows - 2).round().astype(int)
    extremes = [frame[y].to_numpy().argmin(), frame[y].to_numpy().argmax()]
    keep = np.union1d(order[ranks], extremes)
    return frame.iloc[keep].sort_values(x, kind="stable")


def thin_curve(curve: pd.DataFrame, x: str, y: str, max_points: int) -> pd.DataFrame:
    """At most `max_points` points of a curve (rows in drawing order, e.g. one per threshold of
    a ROC curve) that keep its shape: the points at evenly spaced distances along it (|dx| +
    |dy|), its first and last included, so no stretch of the curve is left out. A curve within
    the limit is returned whole."""
    if len(curve) <= max_points:
        return curve
    steps = np.abs(np.diff(curve[x].to_numpy())) + np.abs(np.diff(curve[y].to_numpy()))
    along = np.concatenate([[0.0], np.cumsum(steps)])
    targets = np.linspace(0.0, along[-1], max_points - 1)
    keep = np.union1d(np.searchsorted(along, targets), [len(curve) - 1])
    return curve.iloc[keep]


def confusion_rows(actual: np.ndarray, predicted: np.ndarray, max_rows: int) -> pd.DataFrame:
    """(actual, predicted) per test row for the confusion plot; above `max_rows` rows, about
    `max_rows` rows with each cell's share of the test rows (counts scaled, rounded by largest
    remainder; a cell that occurred keeps at least one row, so a rare mistake stays visible)."""
    frame = pd.DataFrame({"actual": actual, "predicted": predicted})
    if len(frame) <= max_rows:
        return frame
    counts = frame.value_counts(sort=False)
    rows = (counts * max_rows // len(frame)).clip(lower=1)
    remainder = counts * max_rows % len(frame)
    short = max_rows - int(rows.sum())
    if short > 0:
        rows[remainder.sort_values(ascending=False).index[:short]] += 1
    cells = [cell for cell, n in rows.items() for _ in range(n)]
    return pd.DataFrame(cells, columns=["actual", "predicted"])


def write_plots(
    model: Pipeline,
    predictions: Predictions,
    task: str,
    max_rows: int,
    folder: Path = PLOTS_DIR,
) -> None:
    """CSV files for `dvc plots`: confusion and ROC/PR, or predicted vs actual and residuals
    (each about `max_rows` rows at most, see `plot_rows`, `thin_curve` and `confusion_rows`:
    the files are committed)."""
    folder.mkdir(parents=True, exist_ok=True)
    if task == "regression":
        actual = pd.DataFrame({"actual": predictions.y_true, "predicted": predictions.y_pred})
        plot_rows(actual, "actual", "predicted", max_rows).to_csv(
            folder / "predictions.csv", index=False
        )
        residual = predictions.y_true - predictions.y_pred
        residuals = pd.DataFrame({"predicted": predictions.y_pred, "residual": residual})
        plot_rows(residuals, "predicted", "residual", max_rows).to_csv(
            folder / "residuals.csv", index=False
        )
        return
    classes = np.array([str(c) for c in model.classes_])
    confusion = confusion_rows(classes[predictions.y_true], classes[predictions.y_pred], max_rows)
    confusion.to_csv(folder / "confusion.csv", index=False)
    assert predictions.proba is not None
    curves = [k for k in range(len(classes)) if not (len(classes) == 2 and k == 0)]
    points = max(max_rows // len(curves), 3)  # per curve (binary: one, for the positive class)
    roc_rows, pr_rows = [], []
    for k in curves:
        truth, label = predictions.y_true == k, classes[k]
        fpr, tpr, _ = roc_curve(truth, predictions.proba[:, k])
        precision, recall, _ = precision_recall_curve(truth, predictions.proba[:, k])
        roc = pd.DataFrame({"class": label, "fpr": fpr, "tpr": tpr})
        pr = pd.DataFrame({"class": label, "recall": recall, "precision": precision})
        roc_rows.append(thin_curve(roc, "fpr", "tpr", points))
        pr_rows.append(thin_curve(pr, "recall", "precision", points))
    pd.concat(roc_rows).round(5).to_csv(folder / "roc.csv", index=False)
    pd.concat(pr_rows).round(5).to_csv(folder / "pr.csv", index=False)


def write_json(path: Path, payload: object) -> None:
    """Write JSON the way every report file is written: indented, newline-terminated, whole."""
    write_text(path, json.dumps(payload, indent=2) + "\n")


def main() -> int:
    """CLI entry: write reports/metrics.json, slices, importance and plot data."""
    params, contract = load_params(), load_contract()
    model, test = load_model(MODEL_FILE), read_table(TEST_SPLIT, contract)
    predictions = predict(model, test, contract, params.task)
    # Everything is computed before anything is written: a failure keeps the last good reports.
    metrics = metric_table(predictions, params.evaluate)
    slices = slice_table(test, predictions, params.evaluate.slices, params.evaluate.metrics)
    seed = params.evaluate.bootstrap.seed
    ranking = importance(model, test, contract, params.evaluate.primary, seed)
    write_plots(model, predictions, params.task, params.evaluate.plot_rows)
    write_json(SLICES_FILE, slices)
    write_json(IMPORTANCE_FILE, ranking)
    write_json(
        METRICS_FILE,
        {"primary": params.evaluate.primary, "test_rows": len(test), "metrics": metrics},
    )
    primary = metrics[params.evaluate.primary]
    print(
        f"evaluate: {params.evaluate.primary} = {primary['value']:.4f} "
        f"[{primary['ci_low']:.4f}, {primary['ci_high']:.4f}] on {len(test)} test rows"
    )
    return 0
