"""The data contract (contract.yaml): what each column is and the rules the data must meet.

Plain data and YAML only, so that serving can read the contract without the training stack;
`rules.py` compiles it to pandera schemas, `tables.py` reads tables as it says, `infer.py`
drafts one from data (`make schema`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import Field

from actions_mlops.core.config import CONTRACT_FILE
from actions_mlops.core.typed import (
    AS_TUPLE,
    ConfigError,
    Fraction,
    Number,
    Positive,
    Problem,
    Settings,
    build,
    locate,
    read_yaml,
    show,
)

Dtype = Literal["int", "float", "str", "bool"]
Role = Literal["feature", "target", "id", "ignored"]
Environment = Literal["training", "serving"]
Severity = Literal["error", "warn"]
NUMERIC_DTYPES = {"int", "float"}
CATEGORICAL_DTYPES = {"str", "bool"}
# numpy.finfo(numpy.float32).max: beyond it no estimator can use a value (trees compute in
# float32), so the service's request schema accepts floats within it. A literal: no numpy here.
FLOAT32_MAX = 3.4028234663852886e38
INT_MAX = 2**53  # beyond it an int has no exact float64 (the model's dtype)
PANDAS_DTYPES: dict[str, Literal["float64", "str"]] = {
    "int": "float64",
    "float": "float64",
    "str": "str",
    "bool": "str",
}
ROLES = get_args(Role)
ENVIRONMENTS = get_args(Environment)
MAX_CATEGORIES = 100  # inference lists allowed values only up to this many distinct values
HEADER = """\
# yaml-language-server: $schema=.schemas/contract.schema.json
# Data contract for the raw data (params.yaml data.raw), checked by `make validate` (pandera).
# Column fields: dtype (int, float, str, bool); role (feature, target, id, ignored); reason
#   (why `make schema` drafted that role: a row id, a date, a near-copy of the target);
#   environments (where the column must be present; default: training and serving, the
#   target only training); max_null_fraction; range [min, max]; allowed_values with
#   max_unknown_fraction (share of unseen values tolerated); unique; severity (error, warn);
#   pii: true masks the column's values in the prediction log (actions-mlops README, "What the
#   service logs").
# Table fields: min_rows, max_rows, max_duplicate_fraction, min_classes and min_class_fraction
#   (class balance of the target), extra_columns (fail or warn), severity; key (the columns
#   that name a row, e.g. [customer_id]: `make predict` writes them with each prediction).
# `inferred: true` marks rules drafted by `make schema` (warning level): review them, delete
# the line and set `severity: error` to enforce them. Missing columns, text in numeric columns,
# infinities, missing targets, too few rows and a single class are always errors.
"""


class Column(Settings):
    """One column of the contract and its rules (None: not checked)."""

    name: str = Field(exclude=True)  # the column's key in `columns`, set by the code
    dtype: Dtype
    role: Role = "feature"
    reason: str | None = None  # why the column has its role (drafted by `make schema`)
    environments: Annotated[tuple[Environment, ...], AS_TUPLE] | None = None  # None: by role
    max_null_fraction: Fraction | None = None
    range: Annotated[tuple[Number | None, Number | None], AS_TUPLE] | None = None
    allowed_values: Annotated[tuple[Any, ...], AS_TUPLE] | None = None
    max_unknown_fraction: Fraction = 0.0
    unique: bool = False
    severity: Severity = "error"
    inferred: bool = False
    pii: bool = False  # personal data: masked in the prediction log (predictionlog.mask)

    @property
    def reviewed(self) -> bool:
        """Whether a person has reviewed the column's rules (a draft is inferred and warns)."""
        return not self.inferred or self.severity == "error"

    @property
    def is_numeric(self) -> bool:
        """Whether the model treats the column as a number."""
        return self.dtype in NUMERIC_DTYPES

    def required_in(self, environment: str) -> bool:
        """Whether data for `environment` must have this column."""
        default = ("training",) if self.role == "target" else ENVIRONMENTS
        return self.role != "ignored" and environment in (self.environments or default)


class TableRules(Settings):
    """Rules about the whole table."""

    min_rows: Annotated[int, Field(ge=0)] = 1
    max_rows: Positive | None = None
    max_duplicate_fraction: Fraction | None = None
    min_classes: Positive | None = None
    min_class_fraction: Fraction | None = None
    extra_columns: Literal["fail", "warn"] = "fail"
    severity: Severity = "error"
    inferred: bool = False
    # The columns that name a row (e.g. [customer_id]), written with each prediction by
    # `make predict` so predictions join back to their rows and to labels; not a rule.
    key: Annotated[tuple[str, ...], AS_TUPLE] = ()

    @property
    def reviewed(self) -> bool:
        """Whether a person has reviewed the table rules (a draft is inferred and warns)."""
        return not self.inferred or self.severity == "error"


class Contract(Settings):
    """What the data must look like, and what each column is for."""

    columns: dict[str, Column]
    table: TableRules = Field(default_factory=TableRules)

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

    @property
    def draft_only(self) -> bool:
        """Whether no rule has been reviewed yet: everything is still `make schema`'s draft."""
        return not self.table.reviewed and not any(c.reviewed for c in self.columns.values())


def _column_problems(column: Column, file: str) -> list[Problem]:
    """What the field types cannot say: a range that runs backwards, unquoted yes/no."""
    key, problems = f"columns.{column.name}", []
    low, high = column.range or (None, None)
    if low is not None and high is not None and low > high:
        problems.append(
            Problem(
                file, f"{key}.range", show(list(column.range or ())), "[min, max] with min <= max"
            )
        )
    if not column.is_numeric and any(isinstance(v, bool) for v in column.allowed_values or ()):
        allowed = "text values: quote yes/no/true/false ('yes')"
        problems.append(
            Problem(file, f"{key}.allowed_values", show(list(column.allowed_values or ())), allowed)
        )
    return problems


def _key_problems(key: tuple[str, ...], columns: dict[str, Column], file: str) -> list[Problem]:
    """A row key of distinct, non-empty names, none of them the target (unknown when
    predicting); a key column need not be a contract column (a batch may carry ids that the
    training data has not)."""
    targets = {n for n, c in columns.items() if c.role == "target"}
    wrong = [name for name in key if not name.strip() or name in targets]
    if wrong or len(set(key)) != len(key):
        allowed = "distinct column names that name a row, not the target (e.g. [customer_id])"
        return [Problem(file, "table.key", show(list(key)), allowed)]
    return []


def contract_problems(raw: Any, file: str = "contract") -> tuple[Contract | None, list[Problem]]:
    """The Contract in the YAML mapping `raw`, and every problem found (Contract None if any)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict) or not raw["columns"]:
        columns = raw.get("columns") if isinstance(raw, dict) else raw
        return None, [
            Problem(file, "columns", show(columns), "a mapping of column names to fields")
        ]
    unknown = sorted(set(raw) - {"columns", "table"})
    problems = [
        Problem(file, str(k), show(raw[k]), "unknown key; known: columns, table") for k in unknown
    ]
    table, found = build(TableRules, raw.get("table") or {}, file, "table")
    problems += found
    columns = {}
    for name, spec in raw["columns"].items():
        column, found = build(Column, spec or {}, file, f"columns.{name}", name=str(name))
        problems += found
        if column is not None:
            problems += _column_problems(column, file)
            columns[str(name)] = column
    if table is not None:
        problems += _key_problems(table.key, columns, file)
    targets = [c.name for c in columns.values() if c.role == "target"]
    if not problems and len(targets) != 1:
        allowed = "exactly one column needs role 'target'"
        problems.append(Problem(file, "columns", f"targets {targets}", allowed))
    if problems:
        return None, problems
    texts = {
        n: tuple(map(str, c.allowed_values))
        for n, c in columns.items()
        if c.allowed_values and not c.is_numeric
    }
    columns = {
        n: c.model_copy(update={"allowed_values": texts.get(n, c.allowed_values)})
        for n, c in columns.items()
    }
    return Contract(columns=columns, table=table), []


def parse_contract(raw: dict[str, Any], source: str = "contract") -> Contract:
    """Build a Contract from its YAML mapping; ConfigError lists every problem."""
    contract, problems = contract_problems(raw, source)
    if problems or contract is None:
        raise ConfigError(problems)
    return contract


def load_contract(path: Path = CONTRACT_FILE) -> Contract:
    """Read contract.yaml; ConfigError names the file and each problem (YAML errors: the line)."""
    try:
        return parse_contract(read_yaml(path), str(path))
    except ConfigError as error:
        raise ConfigError(locate(error.problems, path)) from None


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
        for name in type(item).model_fields:
            value = getattr(item, name)
            if name != "name" and (name in always or value != getattr(default, name)):
                out[name] = list(value) if isinstance(value, tuple) else value
        return out

    body = {
        "table": changed(contract.table, TableRules()),
        "columns": {
            n: changed(c, Column(name=n, dtype=c.dtype), ("dtype", "role"))
            for n, c in contract.columns.items()
        },
    }
    return HEADER + yaml.dump(body, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
