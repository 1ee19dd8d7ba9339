"""Prediction log: every served record's inputs, outputs, out-of-contract flags, model version,
time and request id, appended as JSON lines to a folder (rotated by size) that `make monitor`
reads back.

Inputs are stored verbatim, except the contract's `pii: true` columns: with PREDICTION_LOG_KEY
set, each value becomes a keyed hash (`hmac:` and 16 hex digits: equal values give equal
hashes, so distinct values can still be counted and joined, but not read back or guessed
without the key); without it, the fixed token `<pii>`. Missing values stay null.

Writing never fails a request: an unwritable sink is reported on stderr and the request goes on.
Reading skips lines that are not whole JSON records (a write cut short by a full disk) and
counts them. Where the folder is: see `config.log_folder`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic_core

from actions_mlops.core.config import MonitorParams, log_folder

if TYPE_CHECKING:  # pandas is for reading the log: the service that writes it never loads it
    import pandas as pd

DEFAULTS = MonitorParams()  # params.yaml `monitor`
CURRENT = "predictions.jsonl"
MASK_TOKEN = "<pii>"


def masker(key: str | None) -> Callable[[Any], str]:
    """The function that replaces one personal value: a keyed hash with `key`, else a token."""
    if not key:
        return lambda value: MASK_TOKEN
    secret = key.encode()

    def keyed_hash(value: Any) -> str:
        digest = hmac.new(secret, str(value).encode(), hashlib.sha256).hexdigest()
        return f"hmac:{digest[:16]}"

    return keyed_hash


class PredictionLog:
    """Appends one JSON line per predicted record; rotates the file past `max_bytes`."""

    def __init__(
        self,
        folder: Path = DEFAULTS.log_dir,
        max_bytes: int = DEFAULTS.max_bytes,
        keep: int = DEFAULTS.keep,
        masked: Iterable[str] = (),
    ):
        self.folder = log_folder(folder)
        self.max_bytes, self.keep = max_bytes, keep
        self.masked = frozenset(masked)
        self._mask = masker(os.environ.get("PREDICTION_LOG_KEY"))
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """The file being appended to."""
        return self.folder / CURRENT

    def write(
        self,
        request_id: str,
        model_version: str,
        records: list[dict[str, Any]],
        predictions: list[Any],
        probabilities: list[dict[str, float]] | None = None,
        warnings: list[list[dict[str, Any]]] | None = None,
    ) -> bool:
        """Log one request (`warnings`: each record's out-of-contract flags, serving/flags.py);
        False (and a line on stderr) when the sink cannot be written."""
        try:
            records = [self.mask(record) for record in records]
            lines = self._lines(
                request_id, model_version, records, predictions, probabilities, warnings
            )
            with self._lock:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._rotate()
                with self.path.open("a", encoding="utf-8") as sink:
                    sink.write("".join(lines))
        except (OSError, TypeError, ValueError) as error:
            print(f"prediction log: not written to {self.path}: {error}", file=sys.stderr)
            return False
        return True

    def mask(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with each personal (`masked`) value replaced; nulls kept."""
        if not self.masked:
            return record
        return {
            name: self._mask(value) if name in self.masked and value is not None else value
            for name, value in record.items()
        }

    @staticmethod
    def _lines(
        request_id: str,
        model_version: str,
        records: list[dict[str, Any]],
        predictions: list[Any],
        probabilities: list[dict[str, float]] | None,
        warnings: list[list[dict[str, Any]]] | None,
    ) -> list[str]:
        """One JSON line per record."""
        timestamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        lines = []
        for index, (record, prediction) in enumerate(zip(records, predictions, strict=True)):
            entry = {
                "request_id": request_id,
                "record": index,
                "timestamp": timestamp,
                "model_version": model_version,
                "features": record,
                "prediction": prediction,
            }
            if probabilities is not None:
                entry["probabilities"] = probabilities[index]
            if warnings is not None:
                entry["warnings"] = warnings[index]
            # pydantic's Rust encoder: about 5x faster than json.dumps on rows of floats.
            lines.append(pydantic_core.to_json(entry, fallback=str).decode() + "\n")
        return lines

    def _rotate(self) -> None:
        """Move a full current file aside and drop the oldest beyond `keep`."""
        if not self.path.exists() or self.path.stat().st_size < self.max_bytes:
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        self.path.rename(self.folder / f"predictions-{stamp}.jsonl")
        for old in sorted(self.folder.glob("predictions-*.jsonl"))[: -self.keep]:
            old.unlink()


@dataclass(frozen=True)
class LoggedBatch:
    """The readable records of a prediction log and where its unreadable lines are."""

    frame: pd.DataFrame
    bad_lines: list[str]  # "file:line" of each line that is not a whole JSON record


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One logged record, or None when the line is cut short or not a record (no `features`
    object, or `warnings` that are not the service's flags)."""
    try:
        entry = json.loads(line)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("features"), dict):
        return None
    flags = entry.get("warnings", [])
    if not isinstance(flags, list) or not all(
        isinstance(flag, dict)
        and isinstance(flag.get("column"), str)
        and isinstance(flag.get("check"), str)
        for flag in flags
    ):
        return None  # not the service's flags (serving/flags.py): not a record it wrote
    return entry


CHUNK = 5_000  # records parsed at a time: the memory of reading a log is this, not the log


def read_log(path: Path, chunk: int = CHUNK) -> LoggedBatch:
    """One row per logged record: request_id, record, timestamp, model_version, prediction,
    `confidence` (the largest of its probabilities, classification), `warnings` (the service's
    flags), the features as columns; `path` is one .jsonl file or a
    folder of them. Lines that do not parse are skipped and listed; a log with no readable
    record is a ValueError.

    Streamed: `chunk` records at a time are parsed into compact columns (numbers as arrays,
    text as categories: a small code per row and each distinct value once; request ids, which
    rarely repeat, as Arrow text), joined column by column at the end: reading a 1M-line log
    (365 MB) holds about 150 MB of columns, not ten times the log."""
    import pandas as pd

    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    chunks: list[tuple[int, dict[str, Any]]] = []
    entries: list[dict[str, Any]] = []
    bad_lines: list[str] = []
    flag_lists: dict[str, list[Any]] = {}  # one list per distinct set of flags, not one per row
    for file in files:
        number = 0
        with file.open("rb") as lines:
            for raw in lines:
                for line in raw.splitlines():  # numbered as the lines of the whole file
                    number += 1
                    if not line.strip():
                        continue
                    entry = parse_line(line)
                    if entry is None:
                        bad_lines.append(f"{file}:{number}")
                        continue
                    entries.append(entry)
                    if len(entries) >= chunk:
                        chunks.append((len(entries), _columns(entries, flag_lists)))
                        entries = []
    if entries:
        chunks.append((len(entries), _columns(entries, flag_lists)))
    if not chunks:
        skipped = f" ({len(bad_lines)} unreadable lines)" if bad_lines else ""
        raise ValueError(f"{path}: no logged predictions{skipped}")
    names = list(dict.fromkeys(name for _, columns in chunks for name in columns))
    frame = pd.DataFrame(index=pd.RangeIndex(sum(rows for rows, _ in chunks)))
    for name in names:  # column by column, each chunk's part freed once joined
        parts = [columns.pop(name, None) for _, columns in chunks]
        frame[name] = _join([rows for rows, _ in chunks], parts)
    return LoggedBatch(frame, bad_lines)


def _join(sizes: list[int], parts: list[Any]) -> pd.Series:
    """One column from its chunks' parts (None: the chunk has no such column): categories when
    every part is text or nothing (codes recoded to the union of their values), else what
    pandas makes of the parts (numbers stay numbers; text beside other values, objects)."""
    import pandas as pd
    from pandas.api.types import union_categoricals

    def empty(part: Any) -> bool:
        return part is None or (part.dtype == object and part.isna().all())

    if any(isinstance(part, pd.Categorical) for part in parts) and all(
        isinstance(part, pd.Categorical) or empty(part) for part in parts
    ):
        categoricals = [
            part if isinstance(part, pd.Categorical) else pd.Categorical([None] * rows)
            for rows, part in zip(sizes, parts, strict=True)
        ]
        return pd.Series(union_categoricals(categoricals), copy=False)
    series = [
        pd.Series([None] * rows)
        if part is None
        else pd.Series(part.astype(object) if isinstance(part, pd.Categorical) else part)
        for rows, part in zip(sizes, parts, strict=True)
    ]
    return pd.concat(series, ignore_index=True) if len(series) > 1 else series[0]


def _confidence(probabilities: Any) -> float:
    """The largest of a record's class probabilities (NaN when it has none)."""
    if isinstance(probabilities, dict):
        values = [v for v in probabilities.values() if isinstance(v, int | float)]
        if values:
            return float(max(values))
    return float("nan")


def _compact(values: list[Any]) -> Any:
    """A chunk's values of one column: a Categorical when they are text (or null), else the
    Series pandas makes of them (numbers, booleans; objects when types are mixed)."""
    import pandas as pd

    texts = all(value is None or isinstance(value, str) for value in values)
    if texts and any(value is not None for value in values):
        return pd.Categorical(values)
    return pd.Series(values)


def _columns(entries: list[dict[str, Any]], flag_lists: dict[str, list[Any]]) -> dict[str, Any]:
    """The compact columns of some parsed records (see read_log)."""
    import pandas as pd

    def shared_flags(flags: Any) -> Any:
        if not flags:
            return flag_lists.setdefault("", [])
        return flag_lists.setdefault(json.dumps(flags, sort_keys=True), flags)

    columns: dict[str, Any] = {
        "request_id": pd.Series([e.get("request_id") for e in entries]),
        "record": pd.Series([e.get("record") for e in entries]),
        "timestamp": pd.to_datetime(
            pd.Series([e.get("timestamp") for e in entries]),
            errors="coerce",
            utc=True,
            format="ISO8601",
        ),
        "model_version": _compact([e.get("model_version") for e in entries]),
        "prediction": _compact([e.get("prediction") for e in entries]),
    }
    if any("probabilities" in e for e in entries):
        columns["confidence"] = pd.Series([_confidence(e.get("probabilities")) for e in entries])
    if any("warnings" in e for e in entries):
        columns["warnings"] = pd.Series([shared_flags(e.get("warnings")) for e in entries])
    # One level: a feature's value stays one cell even when it is a list or an object (a wrong
    # type that monitor.wrong_types reports), instead of becoming columns of its own.
    names = list(dict.fromkeys(name for e in entries for name in e["features"]))
    for name in names:
        columns[str(name)] = _compact([e["features"].get(name) for e in entries])
    return columns
