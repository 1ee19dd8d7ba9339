"""bentofile.yaml checked before a bento is built (`make check-config`, and `make package`
before it builds): one line per problem, as for params.yaml, instead of a traceback from
BentoML or a bento that packages "successfully" and cannot serve.

What is checked: the keys BentoML knows (a misspelt one is named with the closest), each value's
type, the keys `make package` sets itself (name, version, args) left out, a `service` of the
form `module:Class` whose module exists and defines the class (read, not imported: importing the
service loads a model), every module of this package the service imports within `include`, and
every distribution it imports (skops, scikit-learn, ...) among `python.packages` or what they
require. Nothing here imports BentoML: `make check-config` runs before every stage.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import sys
from collections.abc import Callable
from fnmatch import fnmatch
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from actions_mlops.core.config import SOURCE_DIR, own_package
from actions_mlops.core.typed import Problem, show

# The installed actions_mlops package: what `make package` copies into the bento's build context.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
SERVICE = "actions_mlops.serving.service:ModelService"


def texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def names(value: Any) -> bool:
    scalar = (str, int, float, bool)
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, scalar) for k, v in value.items()
    )


TEXT = ("text", lambda value: isinstance(value, str))
TEXTS = ("a list of texts", texts)
FLAG = ("true or false", lambda value: isinstance(value, bool))
NAMES = ("a mapping of names to texts", names)
MAPPING = ("a mapping", lambda value: isinstance(value, dict))
LIST = ("a list", lambda value: isinstance(value, list))
Kind = tuple[str, Callable[[Any], bool]]
# BentoML 1.4's build options (bentoml._internal.bento.build_config; tests/test_bentofile.py
# compares), each with what it holds.
PYTHON: dict[str, Kind] = {
    "packages": TEXTS,
    "lock_packages": FLAG,
    "requirements_txt": TEXT,
    "index_url": TEXT,
    "no_index": FLAG,
    "trusted_host": TEXTS,
    "find_links": TEXTS,
    "extra_index_url": TEXTS,
    "pip_args": TEXT,
    "wheels": TEXTS,
    "pack_git_packages": FLAG,
    "is_src_layout": FLAG,
}
DOCKER: dict[str, Kind] = {
    "base_image": TEXT,
    "distro": TEXT,
    "python_version": TEXT,
    "cuda_version": TEXT,
    "env": NAMES,
    "system_packages": TEXTS,
    "setup_script": TEXT,
    "dockerfile_template": TEXT,
}
TOP: dict[str, Kind | dict[str, Kind]] = {
    "service": TEXT,
    "description": TEXT,
    "labels": NAMES,
    "include": TEXTS,
    "exclude": TEXTS,
    "python": PYTHON,
    "docker": DOCKER,
    "conda": MAPPING,
    "models": LIST,
    "envs": LIST,
}
# What `make package` passes to BentoML itself: the registered model's name and version, and
# the service's arguments (config.serving_args).
SET_BY_PACKAGE = {
    "name": "the registered model's name",
    "version": "the registered version",
    "args": "params.yaml serve and monitor",
    "build_ctx": "the installed actions_mlops package and src/<package>/",
}


def key_problems(raw: dict[str, Any], spec: dict[str, Any], file: str, key: str) -> list[Problem]:
    """Unknown keys, keys `make package` sets, and values of the wrong type, in `raw`."""
    problems = []
    known = list(spec)
    for name, value in raw.items():
        where = f"{key}{name}"
        kind = spec.get(name)
        if not key and name in SET_BY_PACKAGE:
            allowed = f"set by make package ({SET_BY_PACKAGE[name]}): remove it"
            problems.append(Problem(file, where, show(value), allowed))
        elif kind is None:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            allowed = f"unknown key; {hint}known: {', '.join(known)}"
            problems.append(Problem(file, where, show(value), allowed))
        elif isinstance(kind, dict):
            if isinstance(value, dict):
                problems += key_problems(value, kind, file, f"{where}.")
            else:
                problems.append(Problem(file, where, show(value), "a mapping"))
        elif not kind[1](value):
            problems.append(Problem(file, where, show(value), kind[0]))
    return problems


def service_module(service: str) -> tuple[Path | None, str]:
    """The file of the service's module (None if it has none) and why not, for `module:Class`."""
    module, _, name = service.partition(":")
    if not module or not name.isidentifier():
        return None, f"module:Class, e.g. {SERVICE}"
    top = module.partition(".")[0]
    if top != PACKAGE_DIR.name:
        return None, f"a service of the {PACKAGE_DIR.name} package (the bento carries only it)"
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None, f"an importable module:Class (no module {module}), e.g. {SERVICE}"
    path = Path(spec.origin)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = {n.name for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef)}
    defined |= {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    if name not in defined:
        return None, f"a class of {module} (it defines no {name}), e.g. {SERVICE}"
    return path, ""


class Imports(ast.NodeVisitor):
    """The modules a file imports when it runs (not those under `if TYPE_CHECKING:`)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.level == 0:
            self.names.add(node.module)
            self.names.update(f"{node.module}.{alias.name}" for alias in node.names)


def module_file(dotted: str, package: Path = PACKAGE_DIR) -> Path | None:
    """The file of one of the package's modules (`serving.service`), None for other names."""
    path = package / Path(*dotted.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def service_imports(
    start: str = "serving.service", package: Path = PACKAGE_DIR
) -> tuple[set[str], set[str]]:
    """(the package's modules, the top-level third-party modules) the module `start` of
    `package` imports, following the package's own modules."""
    own: set[str] = set()
    third_party: set[str] = set()
    pending = [start]
    while pending:
        module = pending.pop()
        file = module_file(module, package)
        if module in own or file is None:
            continue
        own.add(module)
        visitor = Imports()
        visitor.visit(ast.parse(file.read_text(encoding="utf-8")))
        for name in visitor.names:
            top, _, rest = name.partition(".")
            if top == package.name:
                pending.append(rest)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return own, third_party


def project_imports(source: Path = SOURCE_DIR) -> tuple[set[str], set[str]]:
    """(this package's modules, top-level third-party modules) that the project's own package
    (src/<package>/, which the bento carries too) imports, following this package's modules.
    A file that does not parse is left to training to report."""
    package = own_package(source)
    if package is None:
        return set(), set()
    own: set[str] = set()
    third_party: set[str] = set()
    for file in sorted((source / package).rglob("*.py")):
        visitor = Imports()
        try:
            visitor.visit(ast.parse(file.read_text(encoding="utf-8")))
        except (SyntaxError, ValueError):
            continue
        for name in visitor.names:
            top, _, rest = name.partition(".")
            if top == PACKAGE_DIR.name and rest:
                found, outside = service_imports(rest)
                own, third_party = own | found, third_party | outside
            elif top not in (package, "__future__", PACKAGE_DIR.name):
                third_party.add(top)
    return own, third_party - set(sys.stdlib_module_names)


def project_includes(source: Path = SOURCE_DIR) -> list[str]:
    """`include` patterns for the project's own package and the modules of this package it
    imports (its features.py imports data.features), which `make package` adds to the bento."""
    package = own_package(source)
    if package is None:
        return []
    files = filter(None, map(module_file, project_imports(source)[0]))
    paths = sorted(found.relative_to(PACKAGE_DIR.parent).as_posix() for found in files)
    return [f"{package}/", *paths]


def required_closure(roots: list[str]) -> set[str]:
    """`roots` and every distribution they require here, from the installed packages' metadata
    (environment markers evaluated, requested extras followed); PackageNotFoundError names one
    that is not installed."""
    found: set[str] = set()
    pending = [(root, frozenset[str]()) for root in roots]
    visited: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        key = (canonicalize_name(name), extras)
        if key in visited:
            continue
        visited.add(key)
        found.add(key[0])
        for text in requires(name) or []:
            needed = Requirement(text)
            applies = needed.marker is None or any(
                needed.marker.evaluate({"extra": extra}) for extra in (*extras, "")
            )
            if applies:
                pending.append((needed.name, frozenset(needed.extras)))
    return found


def package_problems(raw: dict[str, Any], service: Path, file: str) -> list[Problem]:
    """Modules the service imports that `include` leaves out, and distributions it or the
    project's own package imports that `python.packages` does not install."""
    problems = []
    start = ".".join(service.relative_to(PACKAGE_DIR).with_suffix("").parts)
    own, third_party = service_imports(start)
    third_party |= project_imports()[1]  # its modules of this package: make package adds them
    include = raw.get("include", ["*"])  # BentoML takes in the whole context by default
    left_out = sorted(
        path
        for path in (
            found.relative_to(PACKAGE_DIR.parent).as_posix()
            for found in filter(None, map(module_file, own))
        )
        if texts(include) and not any(fnmatch(path, pattern) for pattern in include)
    )
    if left_out:
        allowed = f"patterns that take in every module the service imports (add {left_out[0]})"
        problems.append(Problem(file, "include", show(include), allowed))
    python = raw.get("python")
    packages = python.get("packages") if isinstance(python, dict) else None
    if packages is None or not texts(packages):
        return problems
    roots = []
    for i, text in enumerate(packages):
        try:
            roots.append(Requirement(text).name)
        except InvalidRequirement:
            allowed = "a distribution name, e.g. scikit-learn"
            problems.append(Problem(file, f"python.packages[{i}]", show(text), allowed))
    try:
        installed = required_closure(roots)
    except PackageNotFoundError as error:
        allowed = "a distribution installed in this environment (`make setup`), or a typo"
        return [*problems, Problem(file, "python.packages", str(error.name), allowed)]
    distributions = packages_distributions()
    missing = sorted(
        {
            min(distributions[module])
            for module in third_party
            if module in distributions
            and not {canonicalize_name(d) for d in distributions[module]} & installed
        }
    )
    if missing:
        allowed = f"every distribution the service imports; add {', '.join(missing)}"
        problems.append(Problem(file, "python.packages", show(packages), allowed))
    return problems


def bentofile_problems(raw: Any, file: str) -> list[Problem]:
    """Every problem of bentofile.yaml's content `raw` (empty: it builds a bento that serves)."""
    if not isinstance(raw, dict):
        allowed = "a mapping (service, include, python, ...)"
        return [Problem(file, "(top level)", show(raw), allowed)]
    problems = key_problems(raw, TOP, file, "")
    if "service" not in raw:
        problems.append(Problem(file, "service", "missing", f"required: e.g. {SERVICE}"))
    python = raw.get("python")
    if python is None or (isinstance(python, dict) and "packages" not in python):
        allowed = "required: the distributions the service imports"
        problems.append(Problem(file, "python.packages", "missing", allowed))
    service = raw.get("service")
    if not isinstance(service, str):
        return problems
    path, why = service_module(service)
    if path is None:
        return [*problems, Problem(file, "service", service, why)]
    return problems + package_problems(raw, path, file)
