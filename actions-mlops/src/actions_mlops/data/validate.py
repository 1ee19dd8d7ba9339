"""Validate: check a data file against contract.yaml with pandera, lazily (every problem in one
run), and explain each problem once: the root cause per column and rule, with counts, sample rows
and a fix. Writes reports/validation.json and reports/validation.md; exits 1 on any error."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from actions_mlops.core.config import (
    CONTRACT_FILE,
    VALIDATION_MARKDOWN,
    VALIDATION_REPORT,
    load_params,
)
from actions_mlops.core.markdown import inert, plain
from actions_mlops.core.outputs import write_text
from actions_mlops.core.typed import key_lines
from actions_mlops.data.contract import (
    ENVIRONMENTS,
    Contract,
    load_contract,
)
from actions_mlops.data.leakage import (
    LEAK_SCORE,
    NEAR_LEAK_SCORE,
    leaks,
)
from actions_mlops.data.rules import (
    RULES,
    class_shares,
    parse_schema,
    rules_schema,
    severity,
)
from actions_mlops.data.tables import (
    read_parquet,
    typed,
)

SAMPLES = 5
MARKDOWN_LIMIT = 10_000  # characters; the PR report embeds this section
DRAFT_ONLY = (
    "Every rule of contract.yaml is still a draft of `make schema` (`inferred: true`, warnings "
    "only): nothing has been reviewed, so nothing is enforced yet."
)
# Root causes first (the rule table's order): a row reported by an earlier rule of a column is
# not reported again.
ORDER = list(RULES)


@dataclass
class Finding:
    """One root-cause problem: a rule broken by a column (or the table)."""

    check: str
    column: str | None
    severity: str  # "error" or "warning"
    message: str
    expected: str
    observed: str
    hint: str
    count: int = 0
    fraction: float = 0.0
    samples: list[dict[str, Any]] = field(default_factory=list)
    rows: set[int] = field(default_factory=set, repr=False)

    @property
    def id(self) -> str:
        """Stable check id, e.g. `price.range` or `table.min_rows`."""
        return f"{self.column if self.column is not None else 'table'}.{self.check}"


def read_raw(path: Path) -> pd.DataFrame | Finding:
    """The file as read: CSV with every cell as text (undecodable bytes become U+FFFD), Parquet
    with its own types; or why it can't be read."""

    def problem(check: str, message: str, expected: str, hint: str) -> Finding:
        return Finding(check, None, "error", message, expected, message, hint)

    if not path.exists():
        return problem("file", f"{path}: file not found", "a data file", "create it or pass --data")
    if path.suffix == ".parquet":
        return read_parquet(path).reset_index(drop=True)
    try:
        cells = pd.read_csv(
            path, header=None, dtype="str", encoding="utf-8-sig", encoding_errors="replace"
        )
    except pd.errors.EmptyDataError:
        return problem(
            "file", f"{path}: the file is empty", "a header line and data rows", "re-export it"
        )
    except pd.errors.ParserError as error:
        reason = " ".join(str(error).split())
        return problem(
            "csv",
            f"{path}: not a valid CSV: {reason}",
            "the same number of fields on every line",
            "quote values that contain commas or line breaks",
        )
    header = [
        str(name) if pd.notna(name) else f"unnamed_{i}" for i, name in enumerate(cells.iloc[0])
    ]
    frame = cells.iloc[1:].reset_index(drop=True)
    frame.columns = pd.Index(header)
    return frame


def schema_errors(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> list[pa.errors.SchemaError]:
    """Every failure of a lazy pandera validation (in place: our schemas coerce nothing, so the
    frame is not copied)."""
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        return list(errors.schema_errors)
    return []


def _rule_id(error: pa.errors.SchemaError) -> tuple[str, str | None]:
    """Our (rule id, column) for a pandera error."""
    reason = error.reason_code.name if error.reason_code else ""
    if reason == "COLUMN_NOT_IN_DATAFRAME":
        return "required", str(error.failure_cases)
    if reason == "COLUMN_NOT_IN_SCHEMA":
        return "extra_columns", str(error.failure_cases)
    if reason == "DUPLICATE_COLUMN_LABELS":
        return "unique_column_names", None
    name = getattr(error.check, "name", None) or str(error.check)
    return name, error.column_name


def _failed_rows(error: pa.errors.SchemaError) -> pd.DataFrame:
    """Failure cases as rows (index, value); empty for whole-table or whole-column checks."""
    cases = error.failure_cases
    if not isinstance(cases, pd.DataFrame) or "index" not in cases:
        return pd.DataFrame({"index": [], "failure_case": []})
    cases = cases.dropna(subset=["index"]).drop_duplicates("index")
    return cases[["index", "failure_case"]]


def _show(value: Any) -> str:
    text = "missing" if pd.isna(value) else repr(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _percent(fraction: float) -> str:
    return f"{fraction:.1%}" if fraction >= 0.001 or fraction == 0 else f"{fraction * 100:.2g}%"


def _top_values(values: pd.Series, limit: int = 5) -> str:
    counts = values.map(_show).value_counts()
    shown = ", ".join(f"{v} ({n})" for v, n in counts.head(limit).items())
    return shown + (f" and {len(counts) - limit} more" if len(counts) > limit else "")


def explain(
    check: str, column: str | None, values: pd.Series, frame: pd.DataFrame, contract: Contract
) -> tuple[str, str, str, str]:
    """(message, expected, observed, hint) for rule `check` broken by `values` of `column`."""
    rules, table, n = contract.columns.get(column or ""), contract.table, len(frame)
    # A column rule's limit is set (the rule exists only then): `or 0` only tells the type.
    null_limit = (rules.max_null_fraction or 0.0) if rules else 0.0
    bad, share = len(values), _percent(len(values) / max(n, 1))
    where = f"column {column!r}"
    if check == "required":
        role = rules.role if rules else "feature"
        what = f"target column {column!r}" if role == "target" else where
        return (
            f"{what} is missing (contract.yaml: role {role})",
            "present",
            "absent",
            f"add {column!r} to the data, or remove it from contract.yaml"
            + ("" if role == "target" else " (or limit its `environments`)"),
        )
    if check == "extra_columns":
        return (
            f"{where} is not in contract.yaml (table.extra_columns: {table.extra_columns})",
            "only the contract's columns",
            f"extra column {column!r}",
            f"describe {column!r} in contract.yaml (role: ignored keeps it out of the model) "
            "or drop it from the data",
        )
    if check == "unique_column_names":
        return (
            f"column names repeated in the header: {', '.join(map(repr, values))}",
            "each column name once",
            f"{len(values)} repeated names",
            "rename or drop the repeated columns (pandas would silently read them as 'name.1')",
        )
    if check == "utf8":
        return (
            f"{where}: {bad} values ({share}) are not valid UTF-8 text",
            "UTF-8 text",
            f"undecodable bytes in {_top_values(values, 3)}",
            "re-save the file as UTF-8 (for example `iconv -f latin1 -t utf-8`)",
        )
    if check == "number":
        return (
            f"{where} (dtype {rules.dtype if rules else '?'}): {bad} values ({share}) are not "
            f"numbers: {_top_values(values)}",
            "numbers (empty cell for missing)",
            _top_values(values),
            "fix those values, leave the cell empty when unknown, or set dtype: str "
            f"for {column} in contract.yaml if it is a category",
        )
    if check == "finite":
        return (
            f"{where}: {bad} values ({share}) are infinite",
            "finite numbers",
            _top_values(values),
            "infinities usually come from a division by zero upstream; write an empty cell instead",
        )
    if check == "target_not_null":
        return (
            f"target column {column!r}: {bad} rows ({share}) have no label",
            "a label on every row",
            f"{bad} missing labels",
            "drop unlabelled rows before training, or fix the join that lost them",
        )
    if check == "max_null_fraction":
        return (
            f"{where}: {share} missing ({bad} rows), the contract allows at most "
            f"{_percent(null_limit)}",
            f"at most {_percent(null_limit)} missing",
            f"{share} missing",
            f"fill the gaps upstream, or raise max_null_fraction of {column} in contract.yaml",
        )
    if check == "integer":
        return (
            f"{where} (dtype int): {bad} values ({share}) are not whole numbers",
            "whole numbers",
            _top_values(values),
            f"round them upstream, or set dtype: float for {column} in contract.yaml",
        )
    if check == "range":
        low, high = (rules.range if rules else None) or (None, None)
        observed = f"min {values.min():.6g}, max {values.max():.6g}"
        return (
            f"{where}: {bad} values ({share}) outside [{low}, {high}]: {observed}",
            f"between {low} and {high}",
            observed,
            f"fix the values, or widen range of {column} in contract.yaml if they are genuine",
        )
    if check == "allowed_values":
        unseen = values.astype("str").value_counts()
        first = unseen.index[0]
        noun = "classes" if column == contract.target else "categories"
        return (
            f"{where}: unseen {noun} {_top_values(values)}: {share} of rows, the contract "
            f"tolerates {_percent(rules.max_unknown_fraction if rules else 0.0)}",
            f"one of {len((rules.allowed_values if rules else None) or ())} allowed values",
            f"{len(unseen)} unseen: {_top_values(values)}",
            f"add {first!r} to allowed_values of {column} in contract.yaml (or correct the data)",
        )
    if check == "unique":
        return (
            f"{where}: {bad} values ({share}) repeat an earlier row",
            "unique values",
            _top_values(values),
            f"remove the duplicates upstream, or set unique: false for {column}",
        )
    if check == "min_rows":
        message = (
            "the file has a header but no data rows"
            if n == 0
            else f"table: {n} rows, the contract needs at least {table.min_rows}"
        )
        hint = "check the export for a filter or truncation, or lower table.min_rows"
        return message, f"at least {table.min_rows} rows", f"{n} rows", hint
    if check == "max_rows":
        return (
            f"table: {n} rows, more than max_rows {table.max_rows}",
            f"at most {table.max_rows} rows",
            f"{n} rows",
            "check for a join that fans out, or raise table.max_rows",
        )
    if check == "max_duplicate_fraction":
        limit = _percent(table.max_duplicate_fraction or 0.0)
        return (
            f"table: {bad} rows ({share}) duplicate an earlier row, the contract allows {limit}",
            f"at most {limit} duplicated rows",
            f"{bad} duplicated rows",
            "drop duplicates upstream, or raise table.max_duplicate_fraction",
        )
    target = contract.target
    shares = frame[target].value_counts(normalize=True) if target in frame else pd.Series()
    classes = ", ".join(f"{_show(c)} {_percent(s)}" for c, s in shares.items()) or "none"
    if check == "min_classes":
        return (
            f"target column {target!r} has {len(shares)} class(es) ({classes}), "
            f"a classifier needs at least {table.min_classes}",
            f"at least {table.min_classes} classes",
            classes,
            "check the export's filters: the data must hold examples of every class",
        )
    if check == "min_class_fraction":
        all_shares = class_shares(frame, contract)
        rare, least = all_shares.idxmin(), table.min_class_fraction or 0.0
        return (
            f"target column {target!r}: class {_show(rare)} is {_percent(all_shares.min())} of "
            f"rows, the contract needs at least {_percent(least)} per class",
            f"every class at least {_percent(least)}",
            classes,
            "collect more rows of the rare class, or lower table.min_class_fraction",
        )
    return (f"{column or 'table'}: check {check} failed", check, "failed", "see contract.yaml")


def to_findings(
    errors: list[pa.errors.SchemaError], frame: pd.DataFrame, contract: Contract
) -> list[Finding]:
    """One finding per column and rule, root causes first: rows already reported for a column
    by an earlier rule (text that is no number, say) are not reported again."""
    grouped: dict[tuple[str, str | None], list[pd.DataFrame]] = {}
    for error in errors:
        grouped.setdefault(_rule_id(error), []).append(_failed_rows(error))
    findings: list[Finding] = []
    seen: dict[str | None, set[int]] = {}
    for (check, column), parts in sorted(
        grouped.items(), key=lambda item: ORDER.index(item[0][0]) if item[0][0] in ORDER else 99
    ):
        cases = pd.concat(parts).drop_duplicates("index")
        reported = seen.setdefault(column, set())
        rows = set(cases["index"].astype(int)) - reported
        if len(cases) and not rows:
            continue  # every failing row has an earlier root cause
        cases = cases[cases["index"].astype(int).isin(rows)]
        if check in ("required", "extra_columns"):
            values = pd.Series([column])
        elif check == "unique_column_names":
            names = pd.Series(frame.columns)
            values = pd.Series(names[names.duplicated()].unique())
        else:
            values = cases["failure_case"]
        message, expected, observed, hint = explain(check, column, values, frame, contract)
        rules = contract.columns.get(column or "", contract.table)
        if getattr(rules, "inferred", False) and severity(contract, check, column) == "warning":
            hint += " (rule inferred by `make schema`, not reviewed yet)"
        reported |= rows
        samples = [
            {"line": int(i) + 2, "value": _show(v)}
            for i, v in zip(cases["index"][:SAMPLES], cases["failure_case"][:SAMPLES], strict=True)
        ]
        findings.append(
            Finding(
                check,
                column,
                severity(contract, check, column),
                message,
                expected,
                observed,
                hint,
                count=len(rows),
                fraction=round(len(rows) / max(len(frame), 1), 6),
                samples=samples,
                rows=rows,
            )
        )
    if any(f.check == "min_classes" for f in findings):  # one root cause for a single class
        findings = [f for f in findings if f.check != "min_class_fraction"]
    return findings


def leak_findings(frame: pd.DataFrame, contract: Contract, task: str) -> list[Finding]:
    """A warning per feature that alone predicts the target almost perfectly (leakage.py):
    `single_feature_leak` at LEAK_SCORE or above, `single_feature_near_leak` from
    NEAR_LEAK_SCORE. The gate refuses the model while either is reported, unless params.yaml
    gate.acknowledged_leaks names the column (or gate.allow_leaks is true)."""
    metric = "balanced accuracy" if task == "classification" else "R²"
    findings = []
    for name, score in leaks(frame, contract, task, NEAR_LEAK_SCORE).items():
        near = score < LEAK_SCORE
        what = "nearly predicts" if near else "predicts"
        expected = (
            f"no feature alone at {metric} >= {NEAR_LEAK_SCORE} (near-leak band, below the "
            f"leak threshold {LEAK_SCORE})"
            if near
            else f"no feature alone at {metric} >= {LEAK_SCORE}"
        )
        findings.append(
            Finding(
                "single_feature_near_leak" if near else "single_feature_leak",
                name,
                "warning",
                f"{name} alone {what} {contract.target} with {metric} {score:.4f} (out of fold)",
                expected,
                f"{metric} {score:.4f}",
                "check that it is known when predicting (not recorded after the outcome, not an "
                "id or a copy of the target): set its role to ignored in contract.yaml, or, if "
                f"it is legitimate, acknowledge it in params.yaml: gate.acknowledged_leaks: "
                f"[{name}]",
            )
        )
    return findings


def validate_file(
    path: Path, contract: Contract, environment: str = "training", task: str | None = None
) -> tuple[list[Finding], int]:
    """Every problem of the data file at `path` for `environment`, and its number of rows; with
    a `task`, also the features that leak the target (only when there is no error)."""
    frame = read_raw(path)
    if isinstance(frame, Finding):
        return [frame], 0
    errors = schema_errors(parse_schema(contract, environment), frame)
    values = typed(frame, contract)
    errors += schema_errors(rules_schema(contract), values)
    findings = to_findings(errors, frame, contract)
    if task and environment == "training" and not any(f.severity == "error" for f in findings):
        findings += leak_findings(values, contract, task)
    return findings, len(frame)


def contract_lines(path: Path) -> dict[str, int]:
    """Line of each column (and of `table`) in contract.yaml, for annotations."""
    found = key_lines(path)
    top = {key: line for key, line in found.items() if "." not in key and "[" not in key}
    columns = {
        key.removeprefix("columns."): line
        for key, line in found.items()
        if key.startswith("columns.") and key.count(".") == 1
    }
    return top | columns


def _escape(text: str, properties: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if properties else text


def github_annotations(findings: list[Finding], contract_path: Path) -> list[str]:
    """GitHub Actions workflow commands pointing at the contract's line for each finding."""
    lines = contract_lines(contract_path)
    out = []
    for f in findings:
        line = lines.get(f.column or "table", 1)
        title = _escape(f"data contract {f.id}", properties=True)
        level = "error" if f.severity == "error" else "warning"
        out.append(
            f"::{level} file={contract_path},line={line},title={title}::"
            + _escape(f"{f.message}. Fix: {f.hint}")
        )
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(findings: list[Finding], path: Path, rows: int, draft_only: bool = False) -> str:
    """The validation section of the PR report: a verdict line and one table row per finding."""
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    if errors:
        verdict = f"❌ {errors} error(s), {warnings} warning(s): the pipeline stops here"
    elif warnings:
        verdict = f"⚠️ passed with {warnings} warning(s)"
    elif draft_only:
        verdict = "⚠️ passed a draft contract"
    else:
        verdict = "✅ passed"
    lines = [
        f"### Data validation: {verdict}",
        "",
        f"{inert(path, table=False)}, {rows} rows, against `contract.yaml`.",
    ]
    if draft_only:
        lines += ["", DRAFT_ONLY]
    if findings:
        lines += [
            "",
            "| | check | expected | observed | rows | fix |",
            "|---|---|---|---|---|---|",
        ]
    text = "\n".join(lines)
    for shown, f in enumerate(findings):
        mark = "❌" if f.severity == "error" else "⚠️"
        count = f"{f.count} ({_percent(f.fraction)})" if f.count else ""
        row = (
            f"\n| {mark} | {inert(f.id)} | {plain(f.expected)} | {plain(f.observed)} | {count} "
            f"| {_cell(f.hint)} |"
        )
        if len(text) + len(row) > MARKDOWN_LIMIT - 200:
            text += f"\n\n_{len(findings) - shown} more findings in `{VALIDATION_REPORT}`._"
            break
        text += row
    return text + "\n"


def write_reports(findings: list[Finding], path: Path, rows: int, draft_only: bool = False) -> None:
    """reports/validation.json (every finding) and reports/validation.md (the PR section)."""
    report = {
        "data": str(path),
        "rows": rows,
        "valid": not any(f.severity == "error" for f in findings),
        "draft_only": draft_only,
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
        "findings": [
            {"id": f.id} | {k: v for k, v in asdict(f).items() if k != "rows"} for f in findings
        ],
    }
    write_text(VALIDATION_REPORT, json.dumps(report, indent=2) + "\n")
    write_text(VALIDATION_MARKDOWN, markdown(findings, path, rows, draft_only))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m actions_mlops validate`."""
    parser.add_argument("--data", type=Path, help="CSV or Parquet to check (default: data.raw)")
    parser.add_argument("--contract", type=Path, default=CONTRACT_FILE, help="contract to apply")
    parser.add_argument(
        "--environment",
        choices=ENVIRONMENTS,
        default="training",
        help="training data carries the target, serving data does not",
    )


def main(args: argparse.Namespace) -> int:
    """CLI entry: report every problem; exit 1 when any is an error."""
    contract, params = load_contract(args.contract), load_params()
    data = args.data or params.data.raw
    findings, rows = validate_file(data, contract, args.environment, params.task)
    write_reports(findings, data, rows, contract.draft_only)
    for f in findings:
        print(f"validate: {f.severity.upper()} {f.id}: {f.message}. Fix: {f.hint}", file=sys.stderr)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print("\n".join(github_annotations(findings, args.contract)))
    if any(f.severity == "error" for f in findings):
        return 1
    warned = f" with {len(findings)} warning(s)" if findings else ""
    print(f"validate: {data} ({rows} rows) passes {args.contract}{warned}")
    if contract.draft_only:
        print(f"validate: {DRAFT_ONLY}")
    return 0
