"""Every setting params.yaml holds is read by the code that uses it: a key nothing reads is a
knob that does nothing. Each leaf key maps to a field of the typed settings (core/config.py);
the package must read that field outside the modules that only load and check settings."""

from __future__ import annotations

import ast
import types
import typing
from collections.abc import Iterator
from typing import Any

import yaml
from pydantic import BaseModel

from actions_mlops.core.config import Params, ServingSettings
from conftest import PLATFORM, ROOT

PACKAGE = PLATFORM / "src" / "actions_mlops"
# Loading and checking settings is not using them (config.py loads by field name, not attribute:
# its reads are those of the settings it hands on, such as serving_args).
NOT_USE = {"core/typed.py", "checks.py"}

# What an expression holds: a settings class, or ("dict", class) for a mapping of names to it.
Kind = type | tuple[str, type]


def settings_classes() -> dict[str, type]:
    """Every settings model reachable from Params, by name."""
    found: dict[str, type] = {}
    todo: list[type] = [Params, ServingSettings]  # the bento arguments hold serve and monitor
    while todo:
        cls = todo.pop()
        if cls.__name__ not in found:
            found[cls.__name__] = cls
            for hint in typing.get_type_hints(cls).values():
                kind = kind_of_hint(hint)
                todo += [kind[1] if isinstance(kind, tuple) else kind] if kind else []
    return found


def settings_model(hint: Any) -> bool:
    """Whether a type hint is a settings model (pydantic)."""
    return isinstance(hint, type) and issubclass(hint, BaseModel)


def kind_of_hint(hint: Any) -> Kind | None:
    """The settings class a type hint holds (through `X | None`), or a mapping of names to one."""
    if settings_model(hint):
        return hint
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = [kind for kind in map(kind_of_hint, args) if kind is not None]
        return kinds[0] if kinds else None
    if origin is dict and settings_model(args[1]):
        return ("dict", args[1])
    return None


def leaves(raw: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Each leaf key of params.yaml as a path (a list is one leaf)."""
    if isinstance(raw, dict) and raw:
        for key, value in raw.items():
            yield from leaves(value, (*path, str(key)))
    else:
        yield path


def fields_for(path: tuple[str, ...]) -> list[tuple[type, str]]:
    """The (settings class, field) pairs a params.yaml path goes through: `gate.metrics.r2.floor`
    is GateParams.metrics, then MetricRule.floor; the walk stops at a free-form mapping."""
    pairs: list[tuple[type, str]] = []
    kind: Kind | None = Params
    for key in path:
        if isinstance(kind, tuple):  # a name in a mapping of names to settings
            kind = kind[1]
            continue
        if kind is None:
            break
        pairs.append((kind, key))
        hint = typing.get_type_hints(kind).get(key)
        kind = kind_of_hint(hint)
    return pairs


class Reads(ast.NodeVisitor):
    """The settings fields one module reads: `x.field` where `x` holds a settings class (known
    from annotations, assignments, loops over a mapping's items and functions' return types),
    `vars(x)` / `asdict(x)` (every field), and `params.raw.get("section")`."""

    def __init__(self, classes: dict[str, type], returns: dict[str, set[Kind]]) -> None:
        self.classes, self.returns = classes, returns
        self.names: dict[str, set[Kind]] = {}
        self.read: set[tuple[type, str]] = set()

    def annotation(self, node: ast.expr | None) -> set[Kind]:
        if node is None:
            return set()
        named = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        found = [self.classes[name] for name in named if name in self.classes]
        is_dict = isinstance(node, ast.Subscript) and getattr(node.value, "id", "") == "dict"
        return {("dict", cls) if is_dict else cls for cls in found}

    def kinds(self, node: ast.expr) -> set[Kind]:
        """What `node` may hold."""
        if isinstance(node, ast.Name):
            return self.names.get(node.id, set())
        if isinstance(node, ast.Attribute):
            found: set[Kind] = set()
            for kind in self.kinds(node.value):
                if isinstance(kind, type) and node.attr in typing.get_type_hints(kind):
                    hint = typing.get_type_hints(kind)[node.attr]
                    found |= {k for k in (kind_of_hint(hint),) if k is not None}
            return found
        if isinstance(node, ast.Subscript):
            return {k[1] for k in self.kinds(node.value) if isinstance(k, tuple)}
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if isinstance(func, ast.Attribute) and func.attr in ("get", "values"):
                return {k[1] for k in self.kinds(func.value) if isinstance(k, tuple)}
            return self.returns.get(name, set())
        return set()

    def bind(self, target: ast.expr, kinds: set[Kind]) -> None:
        if isinstance(target, ast.Name) and kinds:
            self.names.setdefault(target.id, set()).update(kinds)

    def bind_loop(self, target: ast.expr, iterable: ast.expr) -> None:
        """`for name, rule in x.items()` over a mapping of settings: `rule` holds one."""
        call = iterable if isinstance(iterable, ast.Call) else None
        if call and isinstance(call.func, ast.Attribute) and call.func.attr == "items":
            inner = {k[1] for k in self.kinds(call.func.value) if isinstance(k, tuple)}
            if isinstance(target, ast.Tuple) and len(target.elts) == 2:
                self.bind(target.elts[1], set(inner))
        else:
            self.bind(target, self.kinds(iterable))

    def visit_arg(self, node: ast.arg) -> None:
        self.bind(ast.Name(node.arg), self.annotation(node.annotation))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.bind(node.target, self.annotation(node.annotation))
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                for one, value in zip(target.elts, node.value.elts, strict=False):
                    self.bind(one, self.kinds(value))
            else:
                self.bind(target, self.kinds(node.value))
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self.bind_loop(node.target, node.iter)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self.bind_loop(node.target, node.iter)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        for kind in self.kinds(node.value):
            if isinstance(kind, type) and node.attr in typing.get_type_hints(kind):
                self.read.add((kind, node.attr))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        held = node.args[0] if name in ("vars", "asdict") and node.args else None
        if name == "model_dump" and isinstance(func, ast.Attribute):
            held = func.value
        if held is not None:
            for kind in self.kinds(held):
                if isinstance(kind, type):
                    self.read |= {(kind, field) for field in kind.model_fields}
        raw = func.value if isinstance(func, ast.Attribute) and func.attr == "get" else None
        if isinstance(raw, ast.Attribute) and raw.attr == "raw" and node.args:
            section = node.args[0]
            if Params in self.kinds(raw.value) and isinstance(section, ast.Constant):
                self.read.add((Params, str(section.value)))
        self.generic_visit(node)


def package_reads() -> set[tuple[type, str]]:
    """Every settings field some module of the package reads (outside NOT_USE)."""
    classes = settings_classes()
    trees = {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    returns: dict[str, set[Kind]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.returns is not None:
                kinds = Reads(classes, {}).annotation(node.returns)
                if kinds:
                    returns.setdefault(node.name, set()).update(kinds)
    read: set[tuple[type, str]] = set()
    for name, tree in trees.items():
        if name in NOT_USE:
            continue
        reads = Reads(classes, returns)
        for _ in range(2):  # twice: a name bound after its first use in the text
            reads.visit(tree)
        read |= reads.read
    return read


def unread(params: dict[str, Any]) -> list[str]:
    """The params.yaml keys (dotted paths) whose setting no module reads."""
    read = package_reads()
    missing = []
    for path in leaves(params):
        pairs = fields_for(path)
        if not pairs or any(pair not in read for pair in pairs):
            gone = [f"{cls.__name__}.{name}" for cls, name in pairs if (cls, name) not in read]
            missing.append(f"{'.'.join(path)} ({', '.join(gone) or 'no setting'})")
    return missing


def test_every_params_key_is_read_by_the_package():
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    missing = unread(params)
    assert not missing, f"params.yaml keys nothing reads (a knob that does nothing): {missing}"


def test_the_check_names_a_key_nothing_reads():
    assert unread({"monitor": {"unused_knob": 1}}) == [
        "monitor.unused_knob (MonitorParams.unused_knob)"
    ]
