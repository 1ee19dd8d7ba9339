"""Fast path: the model's fitted preprocessing compiled into numpy arrays when the service loads.

Called on a one-record DataFrame, the pipeline's ColumnTransformer (data/features.py) costs
milliseconds of pandas and dispatch for microseconds of arithmetic. Compiled, each of its
branches becomes the fitted numbers (imputers' fill values, the scaler's means and scales, the
one-hot encoder's category -> column maps) applied to a block of the request's values with the
same float operations scikit-learn's `transform` uses, so the same numbers come out.

The compiler knows the steps features.py builds (SimpleImputer, StandardScaler, OneHotEncoder,
passthrough, drop). Anything else raises `CompileError` and the service preprocesses with the
pipeline instead (its log says why, once). `make package` checks on the whole test split that
both paths give the same predictions (within TOLERANCE) and refuses to package otherwise.
FAST_PATH=off, where the service runs, always uses the pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from actions_mlops.data.contract import (
    FLOAT32_MAX,
    PANDAS_DTYPES,
    Contract,
)

FAST_PATH_ENV = "FAST_PATH"  # "off": preprocess every request with the pipeline
TOLERANCE = 1e-9  # largest absolute difference of a prediction or probability allowed
ROW_LOOP = 64  # up to this many rows, the one-hot encoder loops over values (a request's few)

Records = Sequence[dict[str, Any]]  # request records: contract name -> JSON value or None
Step = Callable[[np.ndarray], np.ndarray]


class CompileError(Exception):
    """A part of the fitted pipeline the compiler does not know: the pipeline preprocesses."""


class Preprocess(Protocol):
    """Records (a request) or a table (a batch) -> the 2-D float array the final estimator
    takes; both give the same numbers for the same rows."""

    name: str

    def __call__(self, records: Records) -> np.ndarray: ...

    def table(self, frame: pd.DataFrame) -> np.ndarray: ...


def to_frame(records: Records, contract: Contract) -> pd.DataFrame:
    """Records as the frame the model was trained on: contract order and pandas dtypes."""
    frame = pd.DataFrame(list(records), columns=contract.features)
    for name in contract.features:
        column = frame[name]
        if contract.columns[name].dtype == "bool":
            column = column.map(lambda value: None if value is None else str(value))
        frame[name] = column.astype(PANDAS_DTYPES[contract.columns[name].dtype])
    return frame


class PipelineFeatures:
    """The fallback: the fitted pipeline's own preprocessing, on a DataFrame per request."""

    name = "pipeline"

    def __init__(self, model: Pipeline, contract: Contract) -> None:
        self.preprocess, self.contract = model[:-1], contract

    def __call__(self, records: Records) -> np.ndarray:
        return np.asarray(self.preprocess.transform(to_frame(records, self.contract)), float)

    def table(self, frame: pd.DataFrame) -> np.ndarray:
        """A table of the contract's features (numbers as floats, text as text, missing as
        NaN or None), as a batch reads it."""
        typed = frame[self.contract.features].astype(
            {n: PANDAS_DTYPES[self.contract.columns[n].dtype] for n in self.contract.features}
        )
        return np.asarray(self.preprocess.transform(typed), float)


@dataclass(frozen=True)
class Block:
    """One ColumnTransformer branch: its columns, read as numbers or as text, and its steps."""

    columns: tuple[str, ...]
    numeric: bool
    steps: tuple[Step, ...]

    def values(self, records: Records) -> np.ndarray:
        """The block's input: float64 with NaN for missing, or text objects with None (bool
        values as "True"/"False", as the training frame holds them)."""
        rows = [[record[name] for name in self.columns] for record in records]
        if self.numeric:
            return np.array(rows, dtype=float)  # None -> NaN
        return np.array(
            [[None if value is None else str(value) for value in row] for row in rows], object
        )

    def table_values(self, frame: pd.DataFrame) -> np.ndarray:
        """The block's input from a table's columns, as `values` gives it from records."""
        columns = frame[list(self.columns)]
        if self.numeric:
            return columns.to_numpy(dtype=float, na_value=np.nan)
        values = columns.to_numpy(dtype=object, copy=True)
        values[pd.isna(values)] = None
        return values


class CompiledFeatures:
    """The fitted ColumnTransformer as numpy operations on each branch's block."""

    name = "compiled"

    def __init__(self, blocks: list[Block]) -> None:
        self.blocks = blocks

    def __call__(self, records: Records) -> np.ndarray:
        return self.run([block.values(records) for block in self.blocks])

    def table(self, frame: pd.DataFrame) -> np.ndarray:
        """A table of the contract's features (numbers as floats, text as text, missing as
        NaN or None), as a batch reads it: the same numbers as its rows as records."""
        return self.run([block.table_values(frame) for block in self.blocks])

    def run(self, inputs: list[np.ndarray]) -> np.ndarray:
        """Each block's steps on its input, side by side."""
        parts = []
        for block, values in zip(self.blocks, inputs, strict=True):
            for step in block.steps:
                values = step(values)
            parts.append(values)
        return np.hstack(parts)


def is_missing(value: Any) -> bool:
    """None or NaN: what SimpleImputer(missing_values=np.nan) replaces."""
    return value is None or (isinstance(value, float) and np.isnan(value))


def compile_imputer(imputer: SimpleImputer, numeric: bool) -> Step:
    """Missing values -> the fitted fill value of their column."""
    if not is_missing(imputer.missing_values) or imputer.add_indicator:
        raise CompileError("a SimpleImputer with missing_values other than NaN, or an indicator")
    fill = imputer.statistics_
    if any(is_missing(value) for value in fill):
        raise CompileError("a SimpleImputer that drops an all-missing column")
    if numeric:
        fill = fill.astype(float)
        return lambda values: np.where(np.isnan(values), fill, values)
    return lambda values: np.where(pd.isna(values), fill, values)


def compile_scaler(scaler: StandardScaler, numeric: bool) -> Step:
    """(x - mean) / scale, as StandardScaler.transform computes it."""
    if not numeric:
        raise CompileError("a StandardScaler on text columns")
    mean = scaler.mean_ if scaler.with_mean else None
    scale = scaler.scale_ if scaler.with_std else None

    def scale_values(values: np.ndarray) -> np.ndarray:
        if mean is not None:
            values = values - mean
        if scale is not None:
            values = values / scale
        return values

    return scale_values


def compile_encoder(encoder: OneHotEncoder) -> Step:
    """Each value -> a 1 in its category's column; a rare (infrequent) or unseen value -> a 1 in
    its column's "infrequent" column when it has one, else all zeros."""
    if encoder.drop is not None or encoder.sparse_output:
        raise CompileError("a OneHotEncoder with drop or sparse output")
    if encoder.handle_unknown not in ("ignore", "infrequent_if_exist"):
        raise CompileError(f"a OneHotEncoder with handle_unknown={encoder.handle_unknown!r}")
    if np.dtype(encoder.dtype) != np.float64:
        raise CompileError(f"a OneHotEncoder with dtype {encoder.dtype}")
    if any(is_missing(value) for categories in encoder.categories_ for value in categories):
        raise CompileError("a OneHotEncoder that learned a missing value as a category")
    infrequent = getattr(encoder, "infrequent_categories_", [None] * len(encoder.categories_))
    columns: list[dict[Any, int]] = []
    unknown: list[int | None] = []  # per input column: where an unseen value goes
    width = 0
    for categories, rare in zip(encoder.categories_, infrequent, strict=True):
        rare_set = set() if rare is None else set(rare)
        frequent = [value for value in categories if value not in rare_set]
        lookup = {value: width + index for index, value in enumerate(frequent)}
        width += len(frequent)
        other = None
        if rare is not None:
            other, width = width, width + 1
            lookup.update({value: other for value in rare_set})
        columns.append(lookup)
        unknown.append(other if encoder.handle_unknown == "infrequent_if_exist" else None)

    # A batch's lookups: each column's values as a hash index of Python objects (equal where
    # the dict's keys are), and the output column of each, -1 for none.
    keys = [pd.Index(list(lookup), dtype=object) for lookup in columns]
    targets = [
        np.array([*lookup.values(), -1 if other is None else other])
        for lookup, other in zip(columns, unknown, strict=True)
    ]

    def encode(values: np.ndarray) -> np.ndarray:
        encoded = np.zeros((len(values), width))
        if len(values) > ROW_LOOP:  # a batch: one lookup per column, not per value
            for index, (known, target) in enumerate(zip(keys, targets, strict=True)):
                found = target[known.get_indexer(values[:, index])]  # -1: the last, "other"
                rows = np.flatnonzero(found >= 0)
                encoded[rows, found[rows]] = 1.0
            return encoded
        for row, record in enumerate(values):
            for lookup, other, value in zip(columns, unknown, record, strict=True):
                column = lookup.get(value, other)
                if column is not None:
                    encoded[row, column] = 1.0
        return encoded

    return encode


def compile_step(step: Any, numeric: bool) -> tuple[Step | None, bool]:
    """(the step as a function, or None for passthrough; whether its output is numbers)."""
    if step is None or step == "passthrough":
        return None, numeric
    if isinstance(step, SimpleImputer):
        return compile_imputer(step, numeric), numeric
    if isinstance(step, StandardScaler):
        return compile_scaler(step, numeric), True
    if isinstance(step, OneHotEncoder):
        return compile_encoder(step), True
    raise CompileError(f"a {type(step).__name__} step")


def compile_block(transformer: Any, columns: Any, contract: Contract) -> Block:
    """One fitted branch of the ColumnTransformer as a Block."""
    if not isinstance(columns, list) or not all(c in contract.columns for c in columns):
        raise CompileError(f"columns selected as {columns!r}, not by contract names")
    kinds = {contract.columns[name].is_numeric for name in columns}
    if len(kinds) != 1:
        raise CompileError(f"a branch mixing numeric and text columns: {columns}")
    numeric = reads_numbers = kinds.pop()
    chain = transformer.steps if isinstance(transformer, Pipeline) else [(None, transformer)]
    steps = []
    for _, step in chain:
        function, numeric = compile_step(step, numeric)
        if function is not None:
            steps.append(function)
    if not numeric:
        raise CompileError(f"a branch whose output is text: {columns}")
    return Block(tuple(columns), reads_numbers, tuple(steps))


def compile_features(model: Any, contract: Contract) -> CompiledFeatures:
    """The model's preprocessing compiled; CompileError when it is not one ColumnTransformer of
    known steps."""
    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        raise CompileError("the model is not Pipeline([preprocessing, estimator])")
    features = model[0]
    if not isinstance(features, ColumnTransformer) or features.sparse_output_:
        raise CompileError(f"the preprocessing is a {type(features).__name__}, not a dense one")
    blocks = []
    for _, transformer, columns in features.transformers_:
        if transformer == "drop" or len(columns) == 0:
            continue
        blocks.append(compile_block(transformer, columns, contract))
    compiled = CompiledFeatures(blocks)
    expected = getattr(model[-1], "n_features_in_", None)
    width = compiled(contract_example(contract)).shape[1]
    if expected is not None and width != expected:
        raise CompileError(f"compiled {width} features, the estimator takes {expected}")
    return compiled


def contract_example(contract: Contract) -> list[dict[str, Any]]:
    """One record of missing values: enough to learn the compiled output's width."""
    return [dict.fromkeys(contract.features)]


def preprocessor(model: Any, contract: Contract) -> tuple[Preprocess, str | None]:
    """(the preprocessing the service runs per request, why it is not the compiled one)."""
    if os.environ.get(FAST_PATH_ENV) == "off":
        return PipelineFeatures(model, contract), f"{FAST_PATH_ENV}=off"
    try:
        return compile_features(model, contract), None
    except CompileError as error:
        return PipelineFeatures(model, contract), f"not compiled: {error}"


def estimator_input(encoded: np.ndarray) -> np.ndarray:
    """Values held within float32's range: tree estimators compute in float32, where a value
    the scaling pushed beyond it fails; held at float32's largest it takes the same branches as
    any value beyond the last split (the request schema keeps raw values within that range)."""
    return np.clip(encoded, -FLOAT32_MAX, FLOAT32_MAX)


def estimator_outputs(estimator: Any, encoded: np.ndarray, classification: bool) -> tuple[Any, Any]:
    """(predictions, class probabilities or None) of the final estimator on its input. A forest
    classifier predicts the class of largest mean probability (scikit-learn's
    ForestClassifier.predict): read from the probabilities, it takes one pass through the trees
    instead of two. A LogisticRegression predicts the class of largest decision score, and its
    probabilities (expit for two classes, softmax for more) keep that order: the class of a
    unique largest probability is its prediction, one call instead of two; a tie (a score so
    near another that the probabilities round equal) asks `predict` for that row."""
    if not classification:
        return estimator.predict(encoded), None
    probabilities = estimator.predict_proba(encoded)
    forest = isinstance(estimator, RandomForestClassifier | ExtraTreesClassifier)
    if forest and estimator.n_outputs_ == 1:
        return estimator.classes_.take(np.argmax(probabilities, axis=1)), probabilities
    if isinstance(estimator, LogisticRegression):
        predictions = estimator.classes_.take(np.argmax(probabilities, axis=1))
        ordered = np.sort(probabilities, axis=1)
        tied = ordered[:, -1] == ordered[:, -2]
        if tied.any():
            predictions[tied] = estimator.predict(encoded[tied])
        return predictions, probabilities
    return estimator.predict(encoded), probabilities


def records_of(frame: pd.DataFrame, contract: Contract) -> list[dict[str, Any]]:
    """A table's rows as request records: numbers as floats, text as str, missing as None."""
    records: list[dict[str, Any]] = [{} for _ in range(len(frame))]
    for name in contract.features:
        numeric = contract.columns[name].is_numeric
        for record, value in zip(records, frame[name].tolist(), strict=True):
            if is_missing(value) or value is pd.NA:
                record[name] = None
            else:
                record[name] = float(value) if numeric else str(value)
    return records


def largest_difference(
    model: Any, compiled: Preprocess, frame: pd.DataFrame, contract: Contract
) -> float:
    """Largest absolute difference between the pipeline's predictions (and class
    probabilities) on `frame` and the fast path's (`compiled`, then `predict`) on the same
    rows; infinity when a predicted class differs."""
    encoded = estimator_input(compiled(records_of(frame, contract)))
    features, classification = frame[contract.features], is_classifier(model[-1])
    found, probabilities = estimator_outputs(model[-1], encoded, classification)
    expected = model.predict(features)
    if classification:
        if not np.array_equal(expected, found):
            return float("inf")
        expected, found = model.predict_proba(features), probabilities
    return float(np.max(np.abs(np.asarray(expected, float) - np.asarray(found, float))))
