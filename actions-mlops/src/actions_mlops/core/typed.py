"""Settings files read strictly: pydantic models validate them, and every problem becomes one
line `<file>: <key>: <value> — <what is allowed> [line N]`.

One YAML parser: ruamel.yaml's safe loader, the one DVC reads params.yaml with (YAML 1.2), so a
value means the same to DVC and to this code (`1e-3` is a number, `yes` is text) and a key
written twice is an error. The models are the only definition of each knob: their field types
and constraints are checked here, described in the error lines (`describe`) and published as
the JSON Schema editors and check-jsonschema read (`json_schema`)."""

from __future__ import annotations

import difflib
import io
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML, nodes
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

# A newline or other control character in a path would forge a line of the registry's tag
# message (`data: <path> md5:...`), or of any file or command it reaches.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a settings file (`line`: where the key is written, when known)."""

    file: str
    key: str
    value: str
    allowed: str
    line: int | None = None

    def __str__(self) -> str:
        where = f" [line {self.line}]" if self.line else ""
        return f"{self.file}: {self.key}: {self.value} — {self.allowed}{where}"


class ConfigError(ValueError):
    """Every problem found in the settings; the CLI prints one line each and exits 2."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(map(str, self.problems)))


def _flow(value: Any) -> str:
    """`value` as one line of flow-style YAML."""
    stream = io.StringIO()
    writer = YAML(typ="safe", pure=True)
    writer.default_flow_style = True
    writer.width = 10_000
    writer.dump(value, stream)
    return stream.getvalue().strip().removesuffix("...").strip()


def show(value: Any) -> str:
    """A value as the user wrote it in YAML (`lots`, `[0]`, `null`)."""
    if isinstance(value, str):
        return repr(value) if value == "" or CONTROL.search(value) else value
    if isinstance(value, Path):
        return show(str(value))
    text = _flow(_plain(value))
    return text if len(text) <= 60 else text[:56] + " ..."


@dataclass(frozen=True)
class Range:
    """Numbers from `low` to `high` (None: unbounded); open ends exclude the bound."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.open_low else value >= self.low)
        below = self.high is None or (value < self.high if self.open_high else value <= self.high)
        return above and below

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
            return f"in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.open_high else '<='} {self.high:g}"
        return "any number"


class Settings(BaseModel):
    """Base of every settings model: unknown keys refused, values taken as written (no text
    read as a number, no number as a flag), no NaN or infinity, immutable once read."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    def __init__(self, /, *args: Any, **data: Any) -> None:
        """Fields by keyword, or the first ones by position in their declared order
        (`Column("age", "int")`, `ModelParams("sklearn.linear_model.Ridge")`)."""
        if len(args) > len(type(self).model_fields):
            raise TypeError(
                f"{type(self).__name__} takes at most {len(type(self).model_fields)} values"
            )
        super().__init__(**dict(zip(type(self).model_fields, args, strict=False)), **data)


def _as_path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value:
        raise PydanticCustomError("settings", "a path")
    if CONTROL.search(value):
        raise PydanticCustomError("settings", "a path without newlines or other control characters")
    return Path(value)


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _as_written(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    checked = handler(value)
    return value if type(value) is int else checked


# Field types the settings share. A number as written (`5` stays a whole number, so messages,
# reports and fingerprints show what the file says), a path as text without control characters.
# Bounds go before AS_WRITTEN (`Annotated[float, Field(ge=0), AS_WRITTEN]`) so that the JSON
# Schema states them.
AS_WRITTEN = WrapValidator(_as_written)
Number = Annotated[float, AS_WRITTEN]
FilePath = Annotated[Path, BeforeValidator(_as_path)]
Fraction = Annotated[float, Field(ge=0, le=1), AS_WRITTEN]  # a share, 0 and 1 included
Probability = Annotated[float, Field(gt=0, lt=1), AS_WRITTEN]  # strictly between 0 and 1
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]


def suffixed(*suffixes: str) -> BeforeValidator:
    """A path check: the file's name ends in one of `suffixes`."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and value and Path(value).suffix not in suffixes:
            raise PydanticCustomError("settings", f"a path ending in {' or '.join(suffixes)}")
        return value

    return BeforeValidator(check)


# A YAML list held as a tuple (hashable, immutable): `Annotated[tuple[str, ...], AS_TUPLE]`.
AS_TUPLE = BeforeValidator(_as_tuple)


def _plain(value: Any, inside: frozenset[int] = frozenset()) -> Any:
    """ruamel's or the user's value as plain Python: dicts with text keys, lists, scalars (a
    list or mapping holding itself through an alias holds null there)."""
    if isinstance(value, dict | list | tuple) and id(value) in inside:
        return None
    inside |= {id(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v, inside) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, inside) for v in value]
    return value


def _load(text: str, file: str, typ: str) -> Any:
    try:
        return YAML(typ=typ, pure=typ != "safe").load(text)
    except DuplicateKeyError:
        raise ConfigError(duplicate_keys(YAML(typ="rt").compose(text), file)) from None
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        what = error.problem or str(error).splitlines()[0]
        raise ConfigError([Problem(file, where, "not valid YAML", what)]) from None
    except YAMLError as error:
        first = str(error).splitlines()[0]
        raise ConfigError([Problem(file, "(file)", "not valid YAML", first)]) from None


def duplicate_keys(root: nodes.Node | None, file: str) -> list[Problem]:
    """Each key given twice in one mapping of the YAML document `root`, naming both lines: YAML
    would keep the last silently, and the first is what its author sees and edits."""
    found: list[tuple[int, Problem]] = []
    seen: set[int] = set()  # nodes reached twice through aliases (or a recursive alias)
    pending: list[tuple[nodes.Node, str]] = [(root, "")] if root is not None else []
    while pending:
        node, key = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, nodes.SequenceNode):
            pending += [(item, f"{key}[{i}]") for i, item in enumerate(node.value)]
        if not isinstance(node, nodes.MappingNode):
            continue
        first: dict[tuple[str, str], int] = {}  # (tag, text): `1` and "1" are two keys
        for name_node, value in node.value:
            scalar = isinstance(name_node, nodes.ScalarNode) and name_node.value != "<<"
            tag = str(getattr(name_node.tag, "value", name_node.tag))
            name = (tag, str(name_node.value)) if scalar else None
            path = f"{key}.{name_node.value}" if key else str(name_node.value)
            line = name_node.start_mark.line + 1
            if name is not None and name in first:
                lines = f"lines {first[name]} and {line}"
                allowed = "one value per key (YAML would keep the last): remove one"
                found.append((line, Problem(file, path, f"given twice ({lines})", allowed)))
            elif name is not None:
                first[name] = line
            pending.append((value, path))
    return [problem for _, problem in sorted(found, key=lambda pair: pair[0])]


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [Problem(str(path), "(file)", "missing", "the file must exist")]
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([Problem(str(path), "(file)", "unreadable", str(error))]) from None


def parse_yaml(text: str, file: str) -> Any:
    """YAML text as plain Python, read as DVC reads it; a syntax error or a key written twice
    is a ConfigError naming the file, line and column."""
    return _plain(_load(text, file, "safe"))


def read_yaml(path: Path) -> Any:
    """The file's YAML; a missing or malformed file is a ConfigError naming the file and line."""
    return parse_yaml(_text(path), str(path))


def _lines(node: Any, prefix: str, found: dict[str, int]) -> None:
    """Where each key path (`gate.metrics.roc_auc.floor`, `evaluate.metrics[0]`) is written."""
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            found[path] = node.lc.key(key)[0] + 1
            _lines(value, path, found)
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            path = f"{prefix}[{index}]"
            found[path] = node.lc.item(index)[0] + 1
            _lines(value, path, found)


def key_lines(path: Path) -> dict[str, int]:
    """The line each key path of a YAML file is written on (`columns.age`, `evaluate.metrics[0]`);
    empty when the file cannot be read."""
    found: dict[str, int] = {}
    try:
        _lines(_load(path.read_text(encoding="utf-8"), str(path), "rt"), "", found)
    except (OSError, UnicodeDecodeError, ConfigError):
        return {}
    return found


def locate(problems: Sequence[Problem], path: Path) -> list[Problem]:
    """The problems of `path` with the line their key is written on (its section's line for a
    missing key)."""
    found = key_lines(path)
    located = []
    for problem in problems:
        key = problem.key
        while key and key not in found:
            key = key.rpartition(".")[0] if "." in key else ""
        line = found.get(key) if problem.file == str(path) and problem.line is None else None
        located.append(replace(problem, line=line) if line else problem)
    return located


def _nullable(hint: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed) of an optional hint."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(kinds) < len(typing.get_args(hint)):
            return (kinds[0] if len(kinds) == 1 else typing.Union[tuple(kinds)]), True  # noqa: UP007
    return hint, False


def _unannotated(hint: Any) -> tuple[Any, list[Any]]:
    """(the type inside `Annotated[...]`, the constraints attached to it)."""
    if typing.get_origin(hint) is Annotated:
        inner, *metadata = typing.get_args(hint)
        constraints = [m for item in metadata for m in getattr(item, "metadata", [item])]
        return _unannotated(inner)[0], constraints
    return hint, []


def _range(constraints: Sequence[Any]) -> Range | None:
    """The Range the pydantic constraints (`Field(ge=..., lt=...)`) describe."""
    bounds: dict[str, Any] = {}
    for item in constraints:
        if isinstance(item, annotated_types.Gt | annotated_types.Ge):
            bounds |= {"low": item.gt if isinstance(item, annotated_types.Gt) else item.ge}
            bounds["open_low"] = isinstance(item, annotated_types.Gt)
        elif isinstance(item, annotated_types.Lt | annotated_types.Le):
            bounds |= {"high": item.lt if isinstance(item, annotated_types.Lt) else item.le}
            bounds["open_high"] = isinstance(item, annotated_types.Lt)
    return Range(**bounds) if bounds else None


def keys(model: type[BaseModel]) -> list[str]:
    """The keys a model's mapping may have in its file (excluded fields are set by the code)."""
    return [name for name, info in model.model_fields.items() if not info.exclude]


def describe(hint: Any) -> str:
    """What a type hint allows, in words."""
    hint = _unannotated(hint)[0]
    base, nullable = _nullable(hint)
    if nullable:
        return describe(base) + " or null"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(map(show, args))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is list or (origin is tuple and args[-1:] == (...,)):
        return f"a list of {_plural(args[0])}"
    if origin is tuple:
        return f"a list of {len(args)} values ({describe(args[0])} each)"
    if origin is dict:
        return f"a mapping of names to {_plural(args[1])}"
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return "a mapping with keys " + ", ".join(keys(hint))
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    return words.get(hint, "a path" if hint is Path else "any value")


def _bounded(hint: Any) -> str:
    """What a bounded number allows, bounds included: `a whole number >= 2`."""
    hint, constraints = _unannotated(hint)
    base, _ = _nullable(hint)
    inner, more = _unannotated(base)
    return f"{describe(inner)} {_range([*constraints, *more])}"


def _plural(hint: Any) -> str:
    text = describe(hint)
    return text.removeprefix("a ").removeprefix("an ") + ("s" if text.startswith("a ") else "")


def _walk(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, Any, type[BaseModel]]:
    """Along an error's location: (the key as the user writes it, the type hint there, the
    model whose mapping holds the last key)."""
    key, owner = "", model
    hint: Any = Any
    current: Any = model
    for part in loc:
        current = _unannotated(_nullable(_unannotated(current)[0])[0])[0]
        origin, args = typing.get_origin(current), typing.get_args(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            owner, info = current, current.model_fields.get(str(part))
            key = f"{key}.{part}" if key else str(part)
            hint = (
                Annotated[info.annotation, *info.metadata]
                if info and info.metadata
                else (info.annotation if info else Any)
            )
        elif origin is dict:
            if part == "[key]":
                continue
            key, hint = f"{key}.{part}", args[1]
        elif origin in (list, tuple) and isinstance(part, int):
            key = f"{key}[{part}]"
            hint = args[0] if origin is list or args[-1:] == (...,) else args[part]
        else:  # a union member's tag: the hint stays the union's
            continue
        current = hint
    return key, hint, owner


RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def problems_of(
    error: ValidationError, model: type[BaseModel], file: str, prefix: str = ""
) -> list[Problem]:
    """One Problem per key in a pydantic ValidationError, in today's words."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for item in error.errors():
        key, hint, owner = _walk(model, tuple(item["loc"]))
        key = f"{prefix}.{key}" if prefix and key else (prefix or key or "(top level)")
        if key in seen:
            continue
        seen.add(key)
        value, kind = item["input"], item["type"]
        if kind == "extra_forbidden":
            known = keys(owner)
            close = difflib.get_close_matches(key.rpartition(".")[2], known, n=1)
            hint_text = f"did you mean {close[0]}? " if close else ""
            allowed = f"unknown key; {hint_text}known: {', '.join(known)}"
        elif kind == "missing" and isinstance(item["loc"][-1], int):  # a list too short
            key, hint, _ = _walk(model, tuple(item["loc"][:-1]))
            key = f"{prefix}.{key}" if prefix else key
            kind, allowed = "short", describe(hint)
        elif kind == "missing":
            allowed = f"required: {describe(hint)}"
        elif kind == "settings":
            allowed = item["msg"]
        elif kind in RANGE_ERRORS:
            allowed = _bounded(hint)
        elif item.get("ctx", {}).get("error") is not None:  # a model's own check
            allowed = str(item["ctx"]["error"])
        else:
            allowed = describe(hint)
        shown = "missing" if kind == "missing" else show(value)
        problems.append(Problem(file, key, shown, allowed))
    return problems


def build(
    model: type[BaseModel], raw: Any, file: str, key: str = "", **given: Any
) -> tuple[Any, list[Problem]]:
    """`model` validated from the mapping `raw` (plus `given` fields that are not in the file),
    and every problem found (the object is None if any)."""
    if not isinstance(raw, dict):
        return None, [Problem(file, key or "(top level)", show(raw), describe(model))]
    written = [name for name in given if name in raw]
    if written:
        known = keys(model)
        allowed = f"unknown key; known: {', '.join(known)}"
        return None, [
            Problem(file, f"{key}.{n}" if key else n, show(raw[n]), allowed) for n in written
        ]
    try:
        return model.model_validate({**raw, **given}), []
    except ValidationError as error:
        return None, problems_of(error, model, file, key)


def json_schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    """The JSON Schema of a settings file (fields the code sets are left out)."""
    schema = model.model_json_schema(mode="validation")
    schema["title"] = title
    for definition in [schema, *schema.get("$defs", {}).values()]:
        name = definition.get("title")
        source = model if definition is schema else _model_named(model, name)
        if source is None:
            continue
        for field_name, info in source.model_fields.items():
            if info.exclude:
                definition.get("properties", {}).pop(field_name, None)
                required = definition.get("required", [])
                if field_name in required:
                    required.remove(field_name)
    return schema


def _model_named(model: type[BaseModel], name: str | None) -> type[BaseModel] | None:
    """The model called `name` among `model` and the models its fields use."""
    seen: list[type[BaseModel]] = [model]
    for current in seen:
        if current.__name__ == name:
            return current
        for info in current.model_fields.values():
            for hint in _models_in(info.annotation):
                if hint not in seen:
                    seen.append(hint)
    return None


def _models_in(hint: Any) -> list[type[BaseModel]]:
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return [hint]
    return [m for arg in typing.get_args(hint) for m in _models_in(arg)]
