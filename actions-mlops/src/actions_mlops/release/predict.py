"""Predict: score a table with a registered model version, in chunks, into one Parquet file
(the step's command line, which version and which model file: release/batch.py).

`make predict DATA=<file or folder> [VERSION=v1.2.0 | STAGE=prod] [OUT=<file>.parquet]`:

- the version: VERSION, else the one holding STAGE, else the champion (the version in params
  `registry.champion_stage`, else the latest), read through GTO (versions.py);
- its model file: the workspace's when its hash is the one the version's tag records, else
  fetched from DVC or the GitHub Release and checked against that hash (champion.fetch_model);
  then loaded with its types checked (core/modelfile.py). Any other file is refused;
- its contract (contract.yaml at the version's commit): the features, their types and rules;
  the row key is the working copy's `table.key` (a property of the tables, not of the model);
- the table: a CSV or Parquet file or a folder of parts of one format, read in chunks of
  `--chunk-rows` rows (Arrow record batches, one Parquet row group or CSV block at a time), so
  memory follows the chunk, not the table;
- each chunk: the contract check of the service, vectorised (a value outside a column's `range`
  or `allowed_values` is scored and flagged, with the service's message, serving/flags.py), plus
  what the service's request schema refuses (text in a number column, a fraction in an int
  column, infinities, numbers beyond the service's bounds, a missing value where
  `max_null_fraction: 0`): such a row is flagged and NOT scored (its prediction is null); then
  the service's preprocessing (serving/fastpath.py: compiled, or the pipeline's) and estimator.

The output, written to a temporary file and renamed when complete (never a partial file under
the final name), holds per input row: the key columns, `row` (its position in the input), the
features as scored (`pii: true` columns masked as in the prediction log), `prediction`,
`probability_<class>` per class (classification), `model_version` and `warnings` (the row's
flags, as the prediction log holds them), so `make monitor BATCH=<output>` reads it like the log.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sklearn.base import is_classifier

from actions_mlops.core.config import CONTRACT_FILE
from actions_mlops.core.errors import StepError
from actions_mlops.data.contract import (
    FLOAT32_MAX,
    INT_MAX,
    Column,
    Contract,
)
from actions_mlops.data.tables import as_text
from actions_mlops.serving import fastpath
from actions_mlops.serving.flags import column_flag
from actions_mlops.serving.predictionlog import masker

CHUNK_ROWS = 100_000
OUTPUT_DIR = Path("predictions")
FORMATS = (".csv", ".parquet")
# pandas' read_csv missing-value strings: a CSV reads here as the pipeline reads it.
MISSING_TEXT = sorted(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"}
    | {"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)
ROW, PREDICTION, VERSION, WARNINGS, PROBABILITY = (
    "row",
    "prediction",
    "model_version",
    "warnings",
    "probability_",
)
FLAG_TYPE = pa.struct([("column", pa.string()), ("check", pa.string()), ("msg", pa.string())])
NOT_A_NUMBER = "not a number: not scored"
NOT_AN_INT = f"not a whole number within ±{INT_MAX:.0f}: not scored"
NOT_A_FLOAT = f"not a finite number within ±{FLOAT32_MAX:.3g}: not scored"
MISSING = "missing where the contract allows none (max_null_fraction: 0): not scored"


@dataclass
class Counts:
    """What a run scored: rows read, scored, flagged (any flag), not scored (refused)."""

    rows: int = 0
    scored: int = 0
    flagged: int = 0
    refused: int = 0

    def add(self, other: Counts) -> None:
        for name in ("rows", "scored", "flagged", "refused"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Checked:
    """One chunk's features as the model reads them, and its flags: per group of rows, the
    feature's position, check and message (one (check, msg) per group)."""

    values: dict[str, Any]
    refused: np.ndarray
    flags: list[tuple[np.ndarray, int, str, str]] = field(default_factory=list)

    def flag(self, rows: np.ndarray, position: int, check: str, msg: str, refuse: bool) -> None:
        if rows.any():
            self.flags.append((np.flatnonzero(rows), position, check, msg))
            if refuse:
                self.refused |= rows


def numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column's values as floats (NaN when missing), and where a value is text that is no
    number (or a true/false)."""
    if pd.api.types.is_bool_dtype(raw):
        return np.full(len(raw), np.nan), raw.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(raw):
        return raw.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(raw), bool)
    parsed = pd.to_numeric(raw, errors="coerce")
    return parsed.to_numpy(dtype=float, na_value=np.nan), (raw.notna() & parsed.isna()).to_numpy()


def rule_flags(
    checked: Checked, column: Column, position: int, values: Any, ok: np.ndarray, typed: pd.Series
):
    """The service's flags (serving/flags.py) of the values where `ok`: a number below or above
    the column's range, a value not among its allowed values (looked up in `typed`, the same
    values as a Series); vectorised, each group's check and message taken from
    flags.column_flag on one of its values, so they are the service's."""
    low, high = column.range or (None, None)
    below, above = np.zeros_like(ok), np.zeros_like(ok)
    if column.is_numeric and low is not None:
        below = ok & (values < low)
    if column.is_numeric and high is not None:
        above = ok & (values > high)
    outside = np.zeros_like(ok)
    if column.allowed_values is not None:
        known = typed.isin(column.allowed_values).to_numpy()
        outside = ok & ~below & ~above & ~known
    for rows in (below, above, outside):
        if rows.any():
            first = values[np.argmax(rows)]
            found = column_flag(column, first.item() if hasattr(first, "item") else first)
            if found is not None:
                checked.flag(rows, position, found.check, found.msg, refuse=False)


def check_chunk(frame: pd.DataFrame, contract: Contract) -> Checked:
    """The contract check of one chunk: typed features, refused rows and every flag."""
    checked = Checked({}, np.zeros(len(frame), bool))
    for position, name in enumerate(contract.features):
        column, raw = contract.columns[name], frame[name]
        if column.is_numeric:
            values, text = numbers(raw)
            checked.flag(text, position, "type", NOT_A_NUMBER, refuse=True)
            present = ~np.isnan(values)
            if column.dtype == "int":
                fits = (np.abs(values) <= INT_MAX) & (values == np.round(values))
                checked.flag(present & ~fits, position, "type", NOT_AN_INT, refuse=True)
            else:
                fits = np.abs(values) <= FLOAT32_MAX
                checked.flag(present & ~fits, position, "type", NOT_A_FLOAT, refuse=True)
            missing, ok = ~present & ~text, present & fits
            typed = pd.Series(values, copy=False)
        else:
            typed = raw if raw.dtype == "str" else as_text(raw)
            missing = typed.isna().to_numpy()
            values = typed.to_numpy(dtype=object)
            values[missing] = None
            ok = ~missing
        if column.max_null_fraction == 0:
            checked.flag(missing, position, "missing", MISSING, refuse=True)
        rule_flags(checked, column, position, values, ok, typed)
        checked.values[name] = values
    return checked


def warnings_array(flags: list[tuple[np.ndarray, int, str, str]], names: list[str], rows: int):
    """The flags as one list of {column, check, msg} per row, in the contract's column order
    (as the service lists them); an empty list for a row without flags."""
    if not flags:
        return pa.ListArray.from_arrays(
            pa.array(np.zeros(rows + 1, np.int32)), pa.array([], FLAG_TYPE)
        )
    at = np.concatenate([group for group, *_ in flags])
    position = np.concatenate([np.full(len(g), p) for g, p, *_ in flags])
    kind = np.concatenate([np.full(len(g), i) for i, (g, *_) in enumerate(flags)])
    order = np.lexsort((position, at))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(at, minlength=rows))]).astype(np.int32)
    chosen = pa.array(kind[order])
    parts = [
        pa.array([names[p] for _, p, _, _ in flags]),
        pa.array([check for *_, check, _ in flags]),
        pa.array([msg for *_, msg in flags]),
    ]
    items = pa.StructArray.from_arrays(
        [part.take(chosen) for part in parts], fields=list(FLAG_TYPE)
    )
    return pa.ListArray.from_arrays(pa.array(offsets), items)


def spread(values: Any, scored: np.ndarray, kind: pa.DataType) -> pa.Array:
    """Values of the scored rows placed at their rows, null at the others."""
    index = np.full(len(scored), -1)
    index[scored] = np.arange(int(scored.sum()))
    placed = pa.array(np.asarray(values), from_pandas=True).take(pa.array(index, mask=index < 0))
    return placed.cast(kind)


class Scorer:
    """One registered version's model, contract and preprocessing, scoring chunks of a table
    into Arrow tables of one schema."""

    def __init__(self, version: str, model: Any, contract: Contract, key: list[str]):
        self.version, self.model, self.contract = version, model, contract
        self.key = [name for name in key if name not in contract.features]
        self.preprocess, self.fallback = fastpath.preprocessor(model, contract)
        self.classification = is_classifier(model[-1])
        self.classes = list(model[-1].classes_) if self.classification else []
        self.masked = [name for name in contract.features if contract.columns[name].pii]
        self.mask = masker(os.environ.get("PREDICTION_LOG_KEY"))

    @property
    def columns(self) -> list[str]:
        """The input columns it reads."""
        return [*self.key, *self.contract.features]

    def output_fields(self, key_types: dict[str, pa.DataType]) -> list[pa.Field]:
        """The output's columns and types (refuses a column name the output uses itself)."""

        def kind(name: str) -> pa.DataType:
            numeric = self.contract.columns[name].is_numeric and name not in self.masked
            return pa.float64() if numeric else pa.string()

        prediction = pa.array(self.classes).type if self.classification else pa.float64()
        fields = [pa.field(name, key_types[name]) for name in self.key]
        fields += [pa.field(ROW, pa.int64())]
        fields += [pa.field(name, kind(name)) for name in self.contract.features]
        fields += [pa.field(PREDICTION, prediction)]
        fields += [pa.field(f"{PROBABILITY}{c}", pa.float64()) for c in self.classes]
        fields += [pa.field(VERSION, pa.string()), pa.field(WARNINGS, pa.list_(FLAG_TYPE))]
        names = [f.name for f in fields]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise StepError(
                f"column {', '.join(map(repr, clashes))} of the input or contract is a column "
                f"the predictions add ({ROW}, {PREDICTION}, {PROBABILITY}<class>, {VERSION}, "
                f"{WARNINGS}): rename it"
            )
        return fields

    def score(self, chunk: pa.Table, first_row: int, schema: pa.Schema) -> tuple[pa.Table, Counts]:
        """One chunk's output rows (`schema`) and counts."""
        frame = as_frame(chunk.select(self.contract.features), self.contract)
        checked = check_chunk(frame, self.contract)
        scored = ~checked.refused
        rows = np.flatnonzero(scored)  # text as Python objects, as the service reads it
        features = pd.DataFrame(
            {n: pd.Series(v[rows], dtype=v.dtype) for n, v in checked.values.items()}
        )
        arrays: dict[str, Any] = {name: chunk.column(name) for name in self.key}
        arrays[ROW] = pa.array(np.arange(first_row, first_row + len(frame)))
        for name in self.contract.features:
            kind = schema.field(name).type
            arrays[name] = pa.array(
                self.masked_values(name, checked.values[name]), kind, from_pandas=True
            )
        if len(features):
            encoded = fastpath.estimator_input(self.preprocess.table(features))
            found, shares = fastpath.estimator_outputs(self.model[-1], encoded, self.classification)
        else:
            found, shares = np.array([]), np.zeros((0, len(self.classes)))
        arrays[PREDICTION] = spread(found, scored, schema.field(PREDICTION).type)
        for index, label in enumerate(self.classes):
            arrays[f"{PROBABILITY}{label}"] = spread(shares[:, index], scored, pa.float64())
        arrays[VERSION] = pa.repeat(pa.scalar(self.version), len(frame))
        arrays[WARNINGS] = warnings_array(checked.flags, self.contract.features, len(frame))
        table = pa.Table.from_arrays([arrays[name] for name in schema.names], schema=schema)
        flagged = np.zeros(len(frame), bool)
        for group, *_ in checked.flags:
            flagged[group] = True
        counts = Counts(len(frame), int(scored.sum()), int(flagged.sum()), int((~scored).sum()))
        return table, counts

    def masked_values(self, name: str, values: Any) -> Any:
        """A `pii: true` column's values as the prediction log writes them (keyed hash or
        token; missing stays missing); other columns as they are."""
        if name not in self.masked:
            return values
        series = pd.Series(values, dtype=object)
        present = series.notna()
        series[present] = series[present].map(self.mask)
        return series.where(present, None)


def table_files(path: Path) -> list[Path]:
    """The file, or the folder's files (hidden and `_` names, such as Spark's _SUCCESS, left
    out) in path order, all CSV or all Parquet."""
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(s[0] in "._" for s in p.relative_to(path).parts)
        )
    else:
        raise StepError(f"{path}: no such file or folder")
    kinds = sorted({p.suffix for p in files})
    if len(kinds) != 1 or kinds[0] not in FORMATS:
        raise StepError(
            f"{path}: a CSV or Parquet file, or a folder of parts of one of them, is needed; "
            f"found {', '.join(kinds) or 'no file'}"
        )
    return files


def file_columns(file: Path) -> dict[str, pa.DataType]:
    """A file's columns and their types (a CSV's all text: that is how they are read here)."""
    if file.suffix == ".parquet":
        schema = pq.read_schema(file)
        return {name: schema.field(name).type for name in schema.names}
    with file.open(newline="", encoding="utf-8") as handle:
        return dict.fromkeys(next(csv.reader(handle), []), pa.string())


def batches(file: Path, columns: list[str], rows: int) -> Iterator[pa.RecordBatch]:
    """A file's `columns` as record batches of at most `rows` rows, read one Parquet row group
    or CSV block at a time (a CSV's columns as text: a key as written, numbers parsed per chunk,
    so one bad value is one flagged row, not a failed read)."""
    if file.suffix == ".parquet":  # row group by row group: iter_batches reads further ahead
        parts = pq.ParquetFile(file)
        for group in range(parts.num_row_groups):
            yield from parts.read_row_group(group, columns=columns).to_batches(max_chunksize=rows)
        return
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(columns, pa.string()),
        include_columns=columns,
        null_values=MISSING_TEXT,
        strings_can_be_null=True,
    )
    yield from pacsv.open_csv(file, convert_options=convert)


def chunks(files: list[Path], columns: list[str], rows: int) -> Iterator[pa.Table]:
    """The files' rows in order, `rows` at a time (the last chunk shorter), each part's batches
    cast to the first's types: memory follows the chunk and one row group or block."""
    pending: list[pa.RecordBatch] = []
    held, schema = 0, None
    for file in files:
        for batch in batches(file, columns, rows):
            schema = schema or batch.schema
            if batch.schema != schema:
                try:
                    batch = batch.cast(schema)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                    raise StepError(
                        f"{file}: its columns' types differ from the first part's ({error})"
                    ) from None
            pending.append(batch)
            held += batch.num_rows
            while held >= rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, rows)
                rest = table.slice(rows)
                pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending)


def as_frame(table: pa.Table, contract: Contract) -> pd.DataFrame:
    """A chunk as pandas: decimals as floats, and a number column read as text (CSV) cast to
    numbers by Arrow when every value is one (else pandas parses it, check_chunk flags)."""
    columns = []
    for name, values in zip(table.column_names, table.columns, strict=True):
        numeric = name in contract.columns and contract.columns[name].is_numeric
        if pa.types.is_decimal(values.type) or (numeric and pa.types.is_string(values.type)):
            with contextlib.suppress(pa.ArrowInvalid):  # text that is no number: pandas
                values = pc.cast(values, pa.float64())
        columns.append(values)
    return pa.table(columns, names=table.column_names).to_pandas()


def output_schema(files: list[Path], out: Path, scorer: Scorer) -> pa.Schema:
    """The output's schema, once the output's name and every file's columns are checked."""
    if out.suffix != ".parquet":
        raise StepError(f"{out}: the output is a Parquet file: name it <file>.parquet")
    for file in files:
        present = file_columns(file)
        missing = [name for name in scorer.columns if name not in present]
        if missing:
            raise StepError(
                f"{file}: no column {', '.join(map(repr, missing))} (the version's features and "
                f"{CONTRACT_FILE} table.key); it has: {', '.join(present)}"
            )
    key_types = {name: file_columns(files[0])[name] for name in scorer.key}
    return pa.schema(scorer.output_fields(key_types))


def predict(source: Path, out: Path, scorer: Scorer, rows: int = CHUNK_ROWS) -> Counts:
    """Score every row of `source` into `out` (Parquet), written whole or not at all."""
    files = table_files(source)
    if source.is_dir() and out.resolve().is_relative_to(source.resolve()):
        raise StepError(f"{out}: the output cannot be inside the input folder {source}")
    schema = output_schema(files, out, scorer)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    counts = Counts()
    try:
        with pq.ParquetWriter(partial, schema) as writer:
            for chunk in chunks(files, scorer.columns, rows):
                table, found = scorer.score(chunk, counts.rows, schema)
                writer.write_table(table)
                counts.add(found)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return counts
