"""Settings files read strictly: a YAML error names the file and line, and a mapping becomes a
typed dataclass with every problem collected (unknown or missing keys, wrong types, values out
of range), one line each: `<file>: <key>: <value> — <what is allowed>`.

The checks come from the dataclasses themselves: each field's type hint (numbers, text, paths,
lists, mappings, `Literal[...]` choices, nested dataclasses, `| None`) and, where a number has
bounds, `field(metadata=between(...))`. A new field is checked without new code."""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml

EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
# A newline or other control character in a path would forge a line of the registry's tag
# message (`data: <path> md5:...`), or of any file or command it reaches.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a settings file."""

    file: str
    key: str
    value: str
    allowed: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.value} — {self.allowed}"


class ConfigError(ValueError):
    """Every problem found in the settings; the CLI prints one line each and exits 2."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(map(str, self.problems)))


def show(value: Any) -> str:
    """A value as the user wrote it in YAML (`lots`, `[0]`, `null`)."""
    if isinstance(value, str):
        return repr(value) if value == "" or CONTROL.search(value) else value
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    text = text.removesuffix("\n...").removesuffix("...").strip()
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


def between(
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> dict[str, Range]:
    """Field metadata bounding a number: `field(metadata=between(0, 1, open_low=True))`."""
    return {"range": Range(low, high, open_low, open_high)}


def read_yaml(path: Path) -> Any:
    """The file's YAML; a missing or malformed file is a ConfigError naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [Problem(str(path), "(file)", "missing", "the file must exist")]
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([Problem(str(path), "(file)", "unreadable", str(error))]) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        twice = duplicate_keys(node, str(path))
        if twice:
            raise ConfigError(twice)
        return None if node is None else loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        what = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError([Problem(str(path), where, "not valid YAML", what)]) from None
    finally:
        loader.dispose()


def duplicate_keys(root: yaml.Node | None, file: str) -> list[Problem]:
    """Each key given twice in one mapping of the YAML document `root`, naming both lines: YAML
    keeps the last silently, and the first is what its author sees and edits."""
    found: list[tuple[int, Problem]] = []
    seen: set[int] = set()  # nodes reached twice through aliases (or a recursive alias)
    pending: list[tuple[yaml.Node, str]] = [(root, "")] if root is not None else []
    while pending:
        node, key = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            pending += [(item, f"{key}[{i}]") for i, item in enumerate(node.value)]
        if not isinstance(node, yaml.MappingNode):
            continue
        first: dict[tuple[str, str], int] = {}  # (tag, text): `1` and "1" are two keys
        for name_node, value in node.value:
            scalar = isinstance(name_node, yaml.ScalarNode) and name_node.value != "<<"
            name = (name_node.tag, str(name_node.value)) if scalar else None
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


def describe(hint: Any) -> str:
    """What a type hint allows, in words."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(map(show, args))
    if origin in (typing.Union, types.UnionType):
        kinds = [describe(a) for a in args if a is not type(None)]
        return " or ".join(kinds) + (" or null" if type(None) in args else "")
    if origin is list or (origin is tuple and args[-1:] == (...,)):
        return f"a list of {_plural(args[0])}"
    if origin is tuple:
        return f"a list of {len(args)} values ({describe(args[0])} each)"
    if origin is dict:
        return f"a mapping of names to {_plural(args[1])}"
    if dataclasses.is_dataclass(hint):
        return "a mapping with keys " + ", ".join(_keys(hint))
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    return words.get(hint, "a path" if hint is Path else "any value")


def _plural(hint: Any) -> str:
    text = describe(hint)
    return text.removeprefix("a ").removeprefix("an ") + ("s" if text.startswith("a ") else "")


def _keys(cls: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init and f.metadata.get("in_file", True)]


def build(cls: Any, raw: Any, file: str, key: str = "", **given: Any) -> tuple[Any, list[Problem]]:
    """`cls` built from the mapping `raw` (plus `given` fields that are not in the file), and
    every problem found (the object is None if any)."""
    if not isinstance(raw, dict):
        return None, [Problem(file, key or "(top level)", show(raw), describe(cls))]
    return _dataclass(raw, cls, file, key, given)


def _convert(
    value: Any, hint: Any, file: str, key: str, meta: typing.Mapping[str, Any]
) -> tuple[Any, list[Problem]]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)

    def wrong() -> tuple[None, list[Problem]]:
        return None, [Problem(file, key or "(top level)", show(value), describe(hint))]

    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None, []
        kinds = [a for a in args if a is not type(None)]
        if len(kinds) == 1:  # `X | None`: say that null is allowed too
            converted, problems = _convert(value, kinds[0], file, key, meta)
            kind = describe(kinds[0])
            return converted, [
                replace(p, allowed=describe(hint)) if p.allowed == kind else p for p in problems
            ]
        for kind in kinds:
            converted, problems = _convert(value, kind, file, key, meta)
            if not problems:
                return converted, []
        return wrong()
    if origin is Literal:
        return (value, []) if value in args else wrong()
    if dataclasses.is_dataclass(hint):
        return _dataclass(value, hint, file, key, {}) if isinstance(value, dict) else wrong()
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            return wrong()
        fixed = origin is tuple and args[-1:] != (...,)
        if fixed and len(value) != len(args):
            return wrong()
        hints = args if fixed else [args[0]] * len(value)
        items = [
            _convert(v, h, file, f"{key}[{i}]", {})
            for i, (v, h) in enumerate(zip(value, hints, strict=True))
        ]
        problems = [p for _, ps in items for p in ps]
        return (None if problems else origin(v for v, _ in items)), problems
    if origin is dict:
        if not isinstance(value, dict):
            return wrong()
        pairs = {k: _convert(v, args[1], file, f"{key}.{k}", {}) for k, v in value.items()}
        problems = [p for _, ps in pairs.values() for p in ps]
        return (None if problems else {str(k): v for k, (v, _) in pairs.items()}), problems
    if hint is Any:
        return value, []
    if hint in (bool, str):
        return (value, []) if isinstance(value, hint) else wrong()
    if hint is float and isinstance(value, str) and EXPONENT.fullmatch(value):
        value = float(value)  # YAML 1.1 (PyYAML) reads 1e-3, without a dot, as text
    if hint in (int, float):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or (hint is int and not isinstance(value, int)) or value != value:
            return wrong()
        bounds = meta.get("range")
        if bounds is not None and value not in bounds:
            return None, [Problem(file, key, show(value), f"{describe(hint)} {bounds}")]
        return value, []  # as written: a whole number stays one where a number is allowed
    if hint is Path:
        if not isinstance(value, str) or not value:
            return wrong()
        if CONTROL.search(value):
            allowed = "a path without newlines or other control characters"
            return None, [Problem(file, key, repr(value), allowed)]
        suffixes = meta.get("suffixes")
        if suffixes and Path(value).suffix not in suffixes:
            return None, [Problem(file, key, value, f"a path ending in {' or '.join(suffixes)}")]
        return Path(value), []
    return wrong()


def _dataclass(
    raw: dict[str, Any], cls: Any, file: str, key: str, given: dict[str, Any]
) -> tuple[Any, list[Problem]]:
    prefix = f"{key}." if key else ""
    hints = typing.get_type_hints(cls)
    known = _keys(cls)
    problems = []
    for name in raw:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            allowed = f"unknown key; {hint}known: {', '.join(known)}"
            problems.append(Problem(file, f"{prefix}{name}", show(raw[name]), allowed))
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in known:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if f.name not in raw:
            if required:
                missing = f"required: {describe(hints[f.name])}"
                problems.append(Problem(file, f"{prefix}{f.name}", "missing", missing))
            continue
        value, found = _convert(raw[f.name], hints[f.name], file, f"{prefix}{f.name}", f.metadata)
        problems += found
        values[f.name] = value
    if problems:
        return None, problems
    try:
        return cls(**given, **values), []
    except (TypeError, ValueError) as error:  # a check of the dataclass's own __post_init__
        return None, [Problem(file, key or "(top level)", show(raw), str(error))]
