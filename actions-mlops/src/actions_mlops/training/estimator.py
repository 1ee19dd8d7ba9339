"""The estimator params.yaml names (model.estimator, model.params), built or refused with the
problems found: `make check-config` reports them, `make train` stops on them."""

from __future__ import annotations

import importlib
import inspect
import re
from difflib import get_close_matches
from typing import Any

from sklearn.base import is_classifier, is_regressor

from actions_mlops.core.config import PARAMS_FILE, ModelParams
from actions_mlops.core.typed import ConfigError, Problem, show

FILE = str(PARAMS_FILE)
TASK_KINDS = {"classification": "classifier", "regression": "regressor"}


def make_estimator(model: ModelParams, task: str | None = None) -> tuple[Any, list[Problem]]:
    """The estimator model.estimator names, built with model.params, and the problems found
    (estimator None if any): not importable, not an estimator for `task`, bad arguments."""
    module_name, _, class_name = model.estimator.rpartition(".")
    try:
        estimator_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError):
        example = "sklearn.ensemble.RandomForestClassifier"
        return None, [
            Problem(
                FILE, "model.estimator", model.estimator, f"an importable class, e.g. {example}"
            )
        ]
    if not isinstance(estimator_class, type) or not hasattr(estimator_class, "fit"):
        return None, [Problem(FILE, "model.estimator", model.estimator, "a class with fit()")]
    accepted = inspect.signature(estimator_class).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        unknown = [k for k in model.params if k not in accepted]
        if unknown:
            return None, [
                Problem(
                    FILE,
                    f"model.params.{k}",
                    show(model.params[k]),
                    _argument_hint(k, list(accepted), class_name),
                )
                for k in unknown
            ]
    try:
        estimator = estimator_class(**model.params)
        if hasattr(estimator, "_validate_params"):  # scikit-learn's own checks of its arguments
            estimator._validate_params()
    except (TypeError, ValueError) as error:
        message = str(error).splitlines()[0]
        name = re.match(r"The '(\w+)' parameter", message)
        key = f"model.params.{name[1]}" if name else "model.params"
        value = model.params.get(name[1]) if name else model.params
        return None, [Problem(FILE, key, show(value), message)]
    if task and not {"classification": is_classifier, "regression": is_regressor}[task](estimator):
        allowed = f"an estimator for task {task} (a {TASK_KINDS[task]})"
        return None, [Problem(FILE, "model.estimator", model.estimator, allowed)]
    return estimator, []


def _argument_hint(name: str, accepted: list[str], class_name: str) -> str:
    close = get_close_matches(name, accepted, n=1)
    return f"not an argument of {class_name}" + (f"; did you mean {close[0]}?" if close else "")


def build_estimator(params: ModelParams) -> Any:
    """The estimator, or ConfigError listing every problem with model.estimator/model.params."""
    estimator, problems = make_estimator(params)
    if problems:
        raise ConfigError(problems)
    return estimator
