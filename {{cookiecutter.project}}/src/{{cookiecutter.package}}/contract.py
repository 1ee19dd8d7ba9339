"""The data contract (contract.yaml): what each column is and the rules the data must meet.

Plain data and YAML only, so that serving can read the contract without the training stack;
`rules.py` compiles it to pandera schemas, `tables.py` reads tables as it says, `infer.py`
drafts one from data (`make schema`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from {{ cookiecutter.package }}.config import CONTRACT_FILE

NUMERIC_DTYPES = {"int", "float"}
CATEGORICAL_DTYPES = {"str", "bool"}
PANDAS_DTYPES = {"int": "float64", "float": "float64", "str": "str", "bool": "str"}
ROLES = ("feature", "target", "id", "ignored")
ENVIRONMENTS = ("training", "serving")
MAX_CATEGORIES = 100  # inference lists allowed values only up to this many distinct values
# Checks whose failure breaks training whatever severity the contract gives: always errors.
STRUCTURAL = {
    "file",
    "csv",
    "unique_column_names",
    "required",
    "utf8",
    "number",
    "finite",
    "target_not_null",
    "min_rows",
    "min_classes",
}
HEADER = """\
# Data contract for the raw data (params.yaml data.raw), checked by `make validate` (pandera).
# Column fields: dtype (int, float, str, bool); role (feature, target, id, ignored);
#   environments (where the column must be present; default: training and serving, the
#   target only training); max_null_fraction; range [min, max]; allowed_values with
#   max_unknown_fraction (share of unseen values tolerated); unique; severity (error, warn);
#   pii: true masks the column's values in the prediction log (README, "What the service logs").
# Table fields: min_rows, max_rows, max_duplicate_fraction, min_classes and min_class_fraction
#   (class balance of the target), extra_columns (fail or warn), severity.
# `inferred: true` marks rules drafted by `make schema` (warning level): review them, delete
# the line and set `severity: error` to enforce them. Missing columns, text in numeric columns,
# infinities, missing targets, too few rows and a single class are always errors.
"""


@dataclass(frozen=True)
class Column:
    """One column of the contract and its rules (None: not checked)."""

    name: str
    dtype: str
    role: str = "feature"
    environments: tuple[str, ...] | None = None  # None: by role
    max_null_fraction: float | None = None
    range: tuple[float | None, float | None] | None = None
    allowed_values: tuple[Any, ...] | None = None
    max_unknown_fraction: float = 0.0
    unique: bool = False
    severity: str = "error"
    inferred: bool = False
    pii: bool = False  # personal data: masked in the prediction log (predictionlog.mask)

    @property
    def is_numeric(self) -> bool:
        """Whether the model treats the column as a number."""
        return self.dtype in NUMERIC_DTYPES

    def required_in(self, environment: str) -> bool:
        """Whether data for `environment` must have this column."""
        default = ("training",) if self.role == "target" else ENVIRONMENTS
        return self.role != "ignored" and environment in (self.environments or default)


@dataclass(frozen=True)
class TableRules:
    """Rules about the whole table."""

    min_rows: int = 1
    max_rows: int | None = None
    max_duplicate_fraction: float | None = None
    min_classes: int | None = None
    min_class_fraction: float | None = None
    extra_columns: str = "fail"
    severity: str = "error"
    inferred: bool = False


@dataclass(frozen=True)
class Contract:
    """What the data must look like, and what each column is for."""

    columns: dict[str, Column]
    table: TableRules = field(default_factory=TableRules)

    @property
    def target(self) -> str:
        """Name of the single target column."""
        return next(c.name for c in self.columns.values() if c.role == "target")

    @property
    def features(self) -> list[str]:
        """Feature columns in contract order."""
        return [c.name for c in self.columns.values() if c.role == "feature"]

    @property
    def numeric_features(self) -> list[str]:
        """Feature columns the model treats as numbers."""
        return [n for n in self.features if self.columns[n].is_numeric]

    @property
    def categorical_features(self) -> list[str]:
        """Feature columns the model one-hot encodes."""
        return [n for n in self.features if not self.columns[n].is_numeric]

    def severity(self, check: str, column: str | None) -> str:
        """'error' or 'warning' for a failed check, from the contract's severities."""
        if check in STRUCTURAL:
            return "error"
        if check == "extra_columns":
            return "error" if self.table.extra_columns == "fail" else "warning"
        rules = self.columns.get(column or "", self.table)
        return "error" if rules.severity == "error" else "warning"


def _column(name: str, spec: dict[str, Any], source: str) -> Column:
    known = {f.name for f in fields(Column)} - {"name"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"{source}: column {name!r} has unknown fields {sorted(unknown)}")
    spec = dict(spec)
    for key in ("environments", "range", "allowed_values"):
        if spec.get(key) is not None:
            spec[key] = tuple(spec[key])
    column = Column(name, **spec)
    if column.dtype not in NUMERIC_DTYPES | CATEGORICAL_DTYPES:
        raise ValueError(f"{source}: column {name!r} has unknown dtype {column.dtype!r}")
    if column.role not in ROLES or column.severity not in ("error", "warn"):
        raise ValueError(f"{source}: column {name!r}: role is one of {ROLES}, severity error|warn")
    if column.allowed_values and not column.is_numeric:
        if any(isinstance(v, bool) for v in column.allowed_values):
            raise ValueError(
                f"{source}: column {name!r}: quote yes/no/true/false in allowed_values"
            )
        return replace(column, allowed_values=tuple(map(str, column.allowed_values)))
    return column


def parse_contract(raw: dict[str, Any], source: str = "contract") -> Contract:
    """Build a Contract from its YAML mapping, rejecting unknown fields and roles."""
    columns = {str(n): _column(str(n), spec or {}, source) for n, spec in raw["columns"].items()}
    unknown = set(raw.get("table") or {}) - {f.name for f in fields(TableRules)}
    if unknown:
        raise ValueError(f"{source}: table has unknown fields {sorted(unknown)}")
    table = TableRules(**(raw.get("table") or {}))
    if table.extra_columns not in ("fail", "warn"):
        raise ValueError(f"{source}: table.extra_columns must be fail or warn")
    targets = [c.name for c in columns.values() if c.role == "target"]
    if len(targets) != 1:
        raise ValueError(f"{source}: exactly one column needs role 'target', found {targets}")
    return Contract(columns=columns, table=table)


def load_contract(path: Path = CONTRACT_FILE) -> Contract:
    """Read contract.yaml, checking the parts the pipeline relies on."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not raw.get("columns"):
        raise ValueError(f"{path}: no columns")
    return parse_contract(raw, str(path))


class _Dumper(yaml.SafeDumper):
    """YAML writer that puts lists on one line: `range: [0, 440]`."""


_Dumper.add_representer(
    list, lambda dumper, items: dumper.represent_sequence("tag:yaml.org,2002:seq", items, True)
)


def dump_contract(contract: Contract) -> str:
    """contract.yaml text: the documentation header, then every field that differs from its
    default (dtype and role always)."""

    def changed(item: Any, default: Any, always: tuple[str, ...] = ()) -> dict[str, Any]:
        out = {}
        for f in fields(item):
            value = getattr(item, f.name)
            if f.name != "name" and (f.name in always or value != getattr(default, f.name)):
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    body = {
        "table": changed(contract.table, TableRules()),
        "columns": {
            n: changed(c, Column(n, c.dtype), ("dtype", "role"))
            for n, c in contract.columns.items()
        },
    }
    return HEADER + yaml.dump(body, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
