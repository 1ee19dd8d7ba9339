"""Predict on Apache Spark: the scoring of release/predict.py, partition by partition.

`make predict DATA=... SPARK=<master URL>` (`local[2]`, `spark://host:7077`, `yarn`, ...): the
table is read by Spark (a CSV's columns as text, as in process), each partition's Arrow batches
are scored by the very `Scorer` of the in-process path (`mapInArrow`): the same verified model
file, compiled preprocessing, contract flags and output columns. The model file's bytes go to
the executors as a broadcast with their sha256; an executor refuses bytes of another hash before
loading them (core/modelfile.load_model checks the file's types, as everywhere).

Spark writes its parts to a hidden folder next to OUT; only when the job succeeded are the parts
merged, one row group at a time, into `.OUT.partial` (the in-process output's schema; `row` the
position in Spark's read order, which is the file's order for one file), renamed to OUT. A failed
job (or a killed driver) leaves no file under OUT's name; a lost executor is Spark's to retry.

Spark (`pyspark`, Java 17+) is the `spark` extra of actions-mlops: imported only here. The
executors need the same Python environment (PYSPARK_PYTHON; this interpreter by default) and
the input and output paths on a file system every machine reads (the same machine, NFS).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from actions_mlops.core.errors import StepError
from actions_mlops.core.modelfile import load_model
from actions_mlops.data.contract import Contract
from actions_mlops.release.predict import (
    MISSING_TEXT,
    PREDICTION,
    ROW,
    WARNINGS,
    Counts,
    Scorer,
    output_schema,
    table_files,
)
from actions_mlops.serving.predictionlog import masker

APP_NAME = "actions-mlops predict"


@dataclass(frozen=True)
class Payload:
    """What every executor needs to build the driver's Scorer: the model file's bytes and
    sha256, the version, its contract, the row key and the masking key of `pii` columns."""

    model: bytes
    sha256: str
    version: str
    contract: Contract
    key: list[str]
    mask_key: str | None


_SCORERS: dict[str, Scorer] = {}  # per Python worker: built once, reused by its tasks


def executor_scorer(payload: Payload) -> Scorer:
    """The payload's Scorer, its bytes checked against their sha256 before they are loaded."""
    if payload.sha256 not in _SCORERS:
        if hashlib.sha256(payload.model).hexdigest() != payload.sha256:
            raise StepError(f"the model bytes received differ from sha256:{payload.sha256}")
        with tempfile.TemporaryDirectory(prefix="predict-spark-") as folder:
            path = Path(folder) / "model.skops"
            path.write_bytes(payload.model)
            model = load_model(path)
        scorer = Scorer(payload.version, model, payload.contract, payload.key)
        scorer.mask = masker(payload.mask_key)
        _SCORERS[payload.sha256] = scorer
    return _SCORERS[payload.sha256]


def as_missing(table: pa.Table) -> pa.Table:
    """A CSV's missing-value strings (pandas' list, as the in-process reader has it) as null."""
    missing = pa.array(MISSING_TEXT)
    columns = [
        pc.if_else(pc.is_in(c, missing), pa.nulls(len(c), c.type), c)
        if pa.types.is_string(c.type) or pa.types.is_large_string(c.type)
        else c
        for c in table.columns
    ]
    return pa.table(columns, names=table.column_names)


def partition_scorer(
    broadcast: Any, schema: pa.Schema, spark_schema: pa.Schema, csv: bool
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function mapInArrow runs on each partition: its batches scored (`row` here the
    position within the partition; the merge numbers the rows)."""
    key_types = {name: schema.field(name).type for name in broadcast.value.key}

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        scorer = executor_scorer(broadcast.value)
        first = 0
        for batch in batches:
            chunk = pa.Table.from_batches([batch])
            chunk = as_missing(chunk) if csv else chunk
            for name in scorer.key:
                index = chunk.column_names.index(name)
                chunk = chunk.set_column(index, name, chunk.column(name).cast(key_types[name]))
            table, _ = scorer.score(chunk, first, schema)
            first += batch.num_rows
            yield from table.cast(spark_schema).to_batches()

    return score


def session(master: str) -> Any:
    """A SparkSession on `master`; executors run this interpreter unless PYSPARK_PYTHON says."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise StepError(
            f"SPARK={master}: pyspark is not installed: install the spark extra "
            "(uv sync --group spark; it needs Java 17+)"
        ) from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # pyspark 4.3 warns on every pandas >= 3 use; this path hands it Arrow batches only.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    builder = SparkSession.builder.master(master).appName(APP_NAME)
    return builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()


def read(spark: Any, files: list[Path], columns: list[str]) -> Any:
    """The files as one DataFrame of `columns` (a CSV's as text, as read in process)."""
    paths = [str(f.resolve()) for f in files]
    if files[0].suffix == ".csv":
        frame = spark.read.options(header=True, inferSchema=False, enforceSchema=False)
        return frame.csv(paths).select(*columns)
    return spark.read.parquet(*paths).select(*columns)


def merge(parts: Path, out: Path, schema: pa.Schema) -> Counts:
    """Spark's parts, in partition order, one row group at a time into OUT (renamed when whole),
    numbering the rows; the counts read from the written columns."""
    files = sorted(p for p in parts.glob("part-*") if p.suffix == ".parquet")
    partial = out.with_name(f".{out.name}.partial")
    counts = Counts()
    try:
        with pq.ParquetWriter(partial, schema) as writer:
            for file in files:
                source = pq.ParquetFile(file)
                for group in range(source.num_row_groups):
                    table = source.read_row_group(group).cast(schema)
                    rows = np.arange(counts.rows, counts.rows + table.num_rows)
                    table = table.set_column(table.schema.get_field_index(ROW), ROW, pa.array(rows))
                    writer.write_table(table)
                    refused = table.column(PREDICTION).null_count
                    flagged = pc.sum(pc.greater(pc.list_value_length(table.column(WARNINGS)), 0))
                    found = Counts(table.num_rows, table.num_rows - refused, 0, refused)
                    found.flagged = int(flagged.as_py() or 0)
                    counts.add(found)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return counts


def predict_spark(source: Path, out: Path, scorer: Scorer, model: Path, master: str) -> Counts:
    """Score every row of `source` on Spark into `out` (Parquet), written whole or not at all."""
    files = table_files(source)
    schema = output_schema(files, out, scorer)
    data = model.read_bytes()
    payload = Payload(
        data,
        hashlib.sha256(data).hexdigest(),
        scorer.version,
        scorer.contract,
        scorer.key,
        os.environ.get("PREDICTION_LOG_KEY"),
    )
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    spark_types = from_arrow_schema(schema)
    out.parent.mkdir(parents=True, exist_ok=True)
    parts = out.parent.resolve() / f".{out.name}.spark-{uuid.uuid4().hex[:12]}"
    try:
        spark = session(master)
    except Exception as error:  # the JVM's refusals (memory, master URL) arrive as Py4J errors
        raise StepError(f"SPARK={master}: Spark did not start: {spark_error(error)}") from None
    try:
        broadcast = spark.sparkContext.broadcast(payload)
        frame = read(spark, files, scorer.columns)
        function = partition_scorer(
            broadcast, schema, to_arrow_schema(spark_types), files[0].suffix == ".csv"
        )
        try:
            frame.mapInArrow(function, spark_types).write.parquet(str(parts))
        except Exception as error:
            raise StepError(f"SPARK={master}: the job failed: {spark_error(error)}") from None
        return merge(parts, out, schema)
    finally:
        spark.stop()
        shutil.rmtree(parts, ignore_errors=True)


def spark_error(error: Exception) -> str:
    """The line of a Spark error that says what went wrong (its Java or Python cause)."""
    lines = [line.strip(" :") for line in str(error).splitlines()]
    lines = [line for line in lines if line and not line.startswith("at ")]
    causes = [line for line in lines if "Error: " in line or "Exception: " in line]
    return (causes or lines or [type(error).__name__])[0][:500]
