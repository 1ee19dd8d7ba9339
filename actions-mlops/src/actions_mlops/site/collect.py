"""What the site shows, read from the repository: the registry through GTO (versions.py and
GTO's history), each version's metrics as committed at its tag, and the monitor's reports.

Every value here comes from tags, tag messages and committed files that anyone who can push a
branch or a tag may have written: the templates escape all of it (Jinja autoescape).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gto import api as gto
from gto.exceptions import ArtifactNotFound, GTOException

from actions_mlops.core import git
from actions_mlops.core.config import (
    IMPORTANCE_FILE,
    METRICS_FILE,
    MODEL_CARD,
    MONITOR_FILE,
    REPORTS,
    SLICES_FILE,
)
from actions_mlops.core.errors import StepError
from actions_mlops.core.pages import version_page
from actions_mlops.release.versions import Version, versions
from actions_mlops.training.metrics import METRICS

# Monitor reports kept over time: site.yml downloads each monitor run's reports/monitor.json
# (an artifact of monitor.yml) here as <time>-run<id>.json; `make monitor` adds the local one.
MONITOR_HISTORY = REPORTS / "monitor-history"
# A metric line of the registration's tag message (registry.tag_message).
TAG_METRIC = re.compile(r"^  ([\w.-]+): (-?[\d.]+(?:e-?\d+)?) \[(-?[\d.]+), (-?[\d.]+)\]$", re.M)
IMPORTANCE_ROWS = 15  # the most important features a version page lists
SLICE_ROWS = 20  # the values of one slice column a version page lists
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,80}$")


@dataclass(frozen=True)
class Metric:
    """One metric of one version: its value and interval on the test set."""

    name: str
    value: float
    low: float
    high: float

    @property
    def better(self) -> str:
        """'higher', 'lower' or '' (a metric the package does not know)."""
        return METRICS[self.name][1] if self.name in METRICS else ""


@dataclass(frozen=True)
class Slice:
    """The test rows with one value of a slice column (evaluate.slices), and their metrics."""

    value: str
    rows: int
    metrics: dict[str, float]


@dataclass
class SiteVersion:
    """A registered version as the site shows it."""

    entry: Version
    metrics: dict[str, Metric]
    primary: str
    metrics_source: str  # where the metrics were read
    gate: str  # the verdict its registration recorded
    model_card: str | None
    importance: list[tuple[str, float, float]] = field(default_factory=list)  # feature, mean, std
    slices: dict[str, list[Slice]] = field(default_factory=dict)  # column -> its values' metrics
    champion: str | None = None  # the version it was compared with when registered

    @property
    def version(self) -> str:
        """The version, e.g. v1.2.0."""
        return self.entry.version

    @property
    def page(self) -> str:
        """Its page, relative to the site's root."""
        return version_page(self.version)


@dataclass(frozen=True)
class Event:
    """One event of the registry's history (GTO): a registration or a stage (un)assignment."""

    time: datetime
    kind: str  # registration, assignment, unassignment, deregistration, deprecation
    version: str | None
    stage: str | None
    message: str
    rollback: bool = False  # an assignment of a version older than the stage's previous one


@dataclass(frozen=True)
class MonitorRun:
    """One monitor report (reports/monitor.json as a monitor run wrote it)."""

    name: str  # the file's name without .json: its time and run when site.yml named it
    source: str
    verdict: str
    rows: int
    drift: dict[str, dict[str, Any]]  # column -> size, threshold, drifted
    weighted_drift: float | None
    out_of_contract: int
    performance: dict[str, float] = field(default_factory=dict)  # metric -> value on labels
    performance_alarm: bool = False  # a metric dropped beyond monitor.performance_tolerance


@dataclass
class Site:
    """Everything the pages show, and the files and tags it was read from."""

    model: str
    champion_stage: str
    versions: list[SiteVersion]  # highest first
    stages: dict[str, str]  # stage -> version holding it now
    events: list[Event]  # oldest first
    runs: list[MonitorRun]  # oldest first
    sources: list[str] = field(default_factory=list)

    @property
    def latest(self) -> SiteVersion | None:
        """The highest registered version."""
        return self.versions[0] if self.versions else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def committed_metrics(commit: str) -> tuple[dict[str, Metric], str] | None:
    """reports/metrics.json as committed at `commit`: its metrics and primary metric."""
    text = git.show_file(commit, METRICS_FILE)
    try:
        data = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        return None
    found = {}
    for name, entry in data["metrics"].items():
        values = [_number((entry or {}).get(k)) for k in ("value", "ci_low", "ci_high")]
        if isinstance(entry, dict) and None not in values:
            found[str(name)] = Metric(str(name), *values)  # type: ignore[arg-type]
    return found, str(data.get("primary", ""))


def tag_metrics(message: str) -> tuple[dict[str, Metric], str]:
    """The metrics a registration's tag message records, and its primary metric."""
    found = {
        m[1]: Metric(m[1], float(m[2]), float(m[3]), float(m[4]))
        for m in TAG_METRIC.finditer(message)
    }
    primary = re.search(r"primary ([\w.-]+)\):$", message, re.M)
    return found, primary[1] if primary else ""


def tag_gate(message: str) -> str:
    """The gate verdict a registration's tag message records ('unknown' when none)."""
    found = re.search(r"^gate: (\S+)$", message, re.M)
    return found[1] if found else "unknown"


def history(model: str) -> list[dict[str, Any]]:
    """GTO's history of the model, oldest first (empty before the first tag or outside git)."""
    if not git.in_repository():
        return []
    try:
        return list(gto.history(".", model, ascending=True))
    except ArtifactNotFound:
        return []
    except GTOException as error:
        raise StepError(f"GTO cannot read the registry's history: {error}") from None


def read_events(model: str, order: list[str]) -> list[Event]:
    """The registry's events, oldest first; an assignment of a version lower than the one the
    stage held before is marked a rollback. `order`: versions lowest first."""
    events: list[Event] = []
    held: dict[str, str | None] = {}
    rank = {version: index for index, version in enumerate(order)}
    for shown in history(model):
        kind, version, stage = shown["event"], shown.get("version"), shown.get("stage")
        rollback = False
        if kind == "assignment" and stage:
            before = held.get(stage)
            rollback = before is not None and rank.get(version or "", -1) < rank.get(before, -1)
            held[stage] = version
        elif kind == "unassignment" and stage:
            held.pop(stage, None)
        events.append(
            Event(shown["timestamp"], kind, version, stage, str(shown["message"]), rollback)
        )
    return events


def champions(events: list[Event], stage: str, order: list[str]) -> dict[str, str | None]:
    """Each version's champion when it was registered (champion.py's rule then): the version
    holding `stage`, else the next lower version (registration only ever moves up, and tags
    made within one second have no order). `order`: versions lowest first."""
    found: dict[str, str | None] = {}
    holder: str | None = None
    for event in events:
        if event.kind == "assignment" and event.stage == stage:
            holder = event.version
        elif event.kind == "unassignment" and event.stage == stage:
            holder = None
        elif event.kind == "registration" and event.version in order:
            index = order.index(event.version)
            found[event.version] = holder or (order[index - 1] if index else None)
    return found


def committed_importance(commit: str) -> list[tuple[str, float, float]]:
    """The permutation importance evaluate wrote (reports/importance.json) at `commit`, most
    important first; empty when not committed or not readable."""
    try:
        rows = json.loads(git.show_file(commit, IMPORTANCE_FILE) or "[]")
        found = [
            (str(row["feature"]), float(row["importance"]), float(row.get("std") or 0.0))
            for row in rows
        ]
    except (ValueError, TypeError, KeyError, AttributeError):
        return []
    return sorted(found, key=lambda row: -row[1])[:IMPORTANCE_ROWS]


def committed_slices(commit: str) -> dict[str, list[Slice]]:
    """The per-slice metrics evaluate wrote (reports/slices.json) at `commit`, the first
    SLICE_ROWS values of each column; empty when not committed or not readable."""
    try:
        data = json.loads(git.show_file(commit, SLICES_FILE) or "{}")
        return {
            str(column): [
                Slice(
                    str(group["value"]),
                    int(group["rows"]),
                    {
                        str(name): float(value)
                        for name, value in group.items()
                        if name not in ("value", "rows") and _number(value) is not None
                    },
                )
                for group in groups[:SLICE_ROWS]
            ]
            for column, groups in data.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}


def read_version(entry: Version, sources: list[str]) -> SiteVersion:
    """One version: its committed metrics (else its tag message's), gate verdict, model card."""
    sources.append(f"tag {entry.tag} (message)")
    committed = committed_metrics(entry.commit)
    if committed is not None:
        metrics, primary = committed
        where = f"{entry.tag}:{METRICS_FILE.as_posix()}"
        sources.append(where)
    else:
        metrics, primary = tag_metrics(entry.message)
        where = f"tag {entry.tag} (message)"
    card = git.show_file(entry.commit, MODEL_CARD)
    if card is not None:
        sources.append(f"{entry.tag}:{MODEL_CARD.as_posix()}")
    importance = committed_importance(entry.commit)
    if importance:
        sources.append(f"{entry.tag}:{IMPORTANCE_FILE.as_posix()}")
    slices = committed_slices(entry.commit)
    if slices:
        sources.append(f"{entry.tag}:{SLICES_FILE.as_posix()}")
    gate = tag_gate(entry.message)
    return SiteVersion(entry, metrics, primary, where, gate, card, importance, slices)


def read_monitor_runs(folder: Path, sources: list[str]) -> list[MonitorRun]:
    """The monitor's reports in `folder` (by file name: site.yml names them by time), then the
    working copy's reports/monitor.json when there is one; unreadable files are skipped."""
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if MONITOR_FILE.is_file():
        paths.append(MONITOR_FILE)
    runs = []
    for path in paths:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            drift = report.get("drift") or {}
            columns = {
                str(row["column"]): {
                    "size": _number(row.get("size")),
                    "threshold": _number(row.get("threshold")),
                    "drifted": row.get("drifted") is True,
                }
                for row in drift.get("columns") or []
            }
            outside = (report.get("out_of_contract") or {}).get("rows", 0)
            measured = report.get("performance") or {}
            numbers = {name: _number(v) for name, v in (measured.get("metrics") or {}).items()}
            performance = {str(name): v for name, v in numbers.items() if v is not None}
            alarm = any(check.get("alarm") is True for check in measured.get("checks") or [])
            run = MonitorRun(
                name=path.stem if path != MONITOR_FILE else "local (reports/monitor.json)",
                source=path.as_posix(),
                verdict=str(report.get("verdict", "unknown")),
                rows=int(report.get("rows", 0)),
                drift=columns,
                weighted_drift=_number(drift.get("weighted_drift")),
                out_of_contract=int(outside or 0),
                performance=performance,
                performance_alarm=alarm,
            )
        except (OSError, ValueError, TypeError, AttributeError, KeyError):
            print(f"site: {path}: not a monitor report, skipped", file=sys.stderr)
            continue
        runs.append(run)
        sources.append(path.as_posix())
    return runs


def read_site(model: str, champion_stage: str, monitor_folder: Path) -> Site:
    """Everything the site shows (see the module docstring)."""
    sources: list[str] = [f"GTO registry of {model} (git tags {model}@*, {model}#*)"]
    found = [read_version(entry, sources) for entry in versions(model)]
    order = [v.version for v in reversed(found)]
    events = read_events(model, order)
    for version, champion in champions(events, champion_stage, order).items():
        for shown in found:
            if shown.version == version:
                shown.champion = champion
    stages: dict[str, str] = {}
    for shown in found:  # highest first: the version holding a stage, as versions.in_stage
        for stage in shown.entry.stages:
            stages.setdefault(stage, shown.version)
    runs = read_monitor_runs(monitor_folder, sources)
    return Site(model, champion_stage, found, dict(sorted(stages.items())), events, runs, sources)
