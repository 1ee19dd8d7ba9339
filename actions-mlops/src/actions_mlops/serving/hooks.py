"""Hooks: the owner's functions around the model in the service's request path, named in
params.yaml `serve` as `module:function` of the project's own package (src/<package>/, which
the bento carries):

- `preprocess(records)`: the request's validated records (dicts of feature name to value),
  returns the records the model predicts;
- `postprocess(response)`: the answer as a dict (model, model_version, request_id,
  predictions, probabilities, warnings), returns it changed; it must still fit the answer's
  schema (PredictResponse).

Unset, the records go straight to the model. The prediction log keeps what the model saw and
said (after preprocess, before postprocess), as monitoring compares it with training. A hook
that raises, or returns what the service cannot use, fails that request with a 500 and one
line in the server log (HookError); the server goes on.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actions_mlops.core.config import PARAMS_FILE, ServeParams
from actions_mlops.core.typed import ConfigError, Problem

Hook = Callable[[Any], Any]


class HookError(Exception):
    """A hook failed on a request; the message is one line: which hook, what it raised."""


def load_hook(key: str, path: str, package: str | None) -> Hook:
    """The function params `serve.<key>` names; ConfigError unless it is one of `package`'s."""
    module, _, name = path.partition(":")
    where = f"src/{package}/" if package else "src/<package>/ (none found)"
    if package is None or module.partition(".")[0] != package:
        allowed = f"a function of this project's package {where}, as module:function"
        raise ConfigError([Problem(str(PARAMS_FILE), f"serve.{key}", path, allowed)])
    try:
        found = getattr(importlib.import_module(module), name)
    except Exception as error:  # importing runs the owner's code: any error is theirs
        allowed = f"an importable function ({type(error).__name__}: {error})"
        raise ConfigError([Problem(str(PARAMS_FILE), f"serve.{key}", path, allowed)]) from None
    if not callable(found):
        raise ConfigError([Problem(str(PARAMS_FILE), f"serve.{key}", path, "a function")])
    return found


@dataclass(frozen=True)
class Hooks:
    """The service's hooks; None where params.yaml sets none."""

    preprocess: Hook | None = None
    postprocess: Hook | None = None

    @classmethod
    def load(cls, serve: ServeParams, package: str | None) -> Hooks:
        """The hooks `serve` names, imported from `package` (ConfigError if one is not there)."""
        paths = {"preprocess": serve.preprocess, "postprocess": serve.postprocess}
        found = {key: load_hook(key, path, package) for key, path in paths.items() if path}
        return cls(**found)

    def describe(self) -> str:
        """Which hooks are set, for the server log."""
        names = [f"{key} {hook.__module__}:{hook.__name__}" for key, hook in self.items()]
        return ", ".join(names) or "none"

    def items(self) -> list[tuple[str, Hook]]:
        pairs = (("preprocess", self.preprocess), ("postprocess", self.postprocess))
        return [(key, hook) for key, hook in pairs if hook is not None]


def run(key: str, hook: Hook, value: Any, check: Callable[[Any], Any]) -> Any:
    """`check(hook(value))`; HookError in one line when either raises."""
    try:
        return check(hook(value))
    except Exception as error:
        reason = (str(error).strip().splitlines() or [""])[0]
        what = f"{type(error).__name__}: {reason}"
        raise HookError(f"serve.{key} {hook.__name__} failed: {what}") from None


def records_of(value: Any) -> list[dict[str, Any]]:
    """What preprocess returned, if it is a non-empty list of dicts, else TypeError."""
    if not (isinstance(value, list) and value and all(isinstance(r, dict) for r in value)):
        raise TypeError(f"returned {type(value).__name__}, not a non-empty list of records")
    return value
