"""Typed settings loaded from params.yaml: the one place that knows the file's layout."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from actions_mlops.core.typed import (
    ConfigError,
    between,
    build,
    read_yaml,
)

PARAMS_FILE = Path("params.yaml")
CONTRACT_FILE = Path("contract.yaml")
BENTOFILE = Path("bentofile.yaml")
PYTHON_VERSION_FILE = Path(".python-version")  # the project's Python: uv, CI and the image
TABLE_FORMATS = (".csv", ".parquet")
TRAIN_SPLIT = Path("data/split/train.parquet")
TEST_SPLIT = Path("data/split/test.parquet")
MODEL_FILE = Path("models/model.skops")
REPORTS = Path("reports")
VALIDATION_REPORT = REPORTS / "validation.json"
METRICS_FILE = REPORTS / "metrics.json"
PLOTS_DIR = REPORTS / "plots"
VALIDATION_MARKDOWN = REPORTS / "validation.md"
IMPORTANCE_FILE = REPORTS / "importance.json"  # written by evaluate
SLICES_FILE = REPORTS / "slices.json"
PROFILE_FILE = REPORTS / "reference_profile.json"
GATE_FILE = REPORTS / "gate.json"  # the verdict and its fingerprints, written by `make gate`
REPORT_FILE = REPORTS / "report.md"
SWEEP_FILE = REPORTS / "sweep.json"
SWEEP_MARKDOWN = REPORTS / "sweep.md"
DRIFT_REPORT = REPORTS / "drift.json"
DRIFT_MARKDOWN = REPORTS / "drift.md"
MONITOR_FILE = REPORTS / "monitor.json"
MONITOR_MARKDOWN = REPORTS / "monitor.md"
# The environment variable that names the prediction log's folder (serving/predictionlog.py).
PREDICTION_LOG_ENV = "PREDICTION_LOG_DIR"
RELEASE = Path("release")
MODEL_CARD = RELEASE / "model-card.md"


@dataclass(frozen=True)
class DataParams:
    """Where the raw data lives (CSV or Parquet, by suffix); for the examples, its source."""

    raw: Path = field(metadata={"suffixes": TABLE_FORMATS})
    source: str | None = None


@dataclass(frozen=True)
class SplitParams:
    """How the raw data is split into train and test."""

    test_size: float = field(metadata=between(0, 1, open_low=True, open_high=True))
    seed: int = field(metadata=between(0))
    stratify: bool = False


@dataclass(frozen=True)
class OneHotParams:
    """Caps on the one-hot encoding of text columns: values seen in fewer than `min_frequency`
    training rows, and those beyond the `max_categories` most frequent, share one "infrequent"
    column (scikit-learn's OneHotEncoder), as do values first seen in serving. None: no cap."""

    max_categories: int | None = field(default=None, metadata=between(2))
    min_frequency: int | None = field(default=None, metadata=between(1))


@dataclass(frozen=True)
class ModelParams:
    """The estimator as an import path plus its keyword arguments, and how text columns are
    encoded for it."""

    estimator: str
    params: dict[str, Any] = field(default_factory=dict)
    one_hot: OneHotParams = field(default_factory=OneHotParams)
    # The preprocessing half of the model: `module:function(contract, one_hot)` returning a
    # scikit-learn transformer. A project's own src/<package>/features.py is named here.
    features: str = "actions_mlops.data.features:build_features"


@dataclass(frozen=True)
class BootstrapParams:
    """Bootstrap settings for metric confidence intervals."""

    resamples: int = field(default=1000, metadata=between(1))
    confidence: float = field(default=0.95, metadata=between(0, 1, open_low=True, open_high=True))
    seed: int = field(default=0, metadata=between(0))


@dataclass(frozen=True)
class EvaluateParams:
    """Which metrics to compute and how."""

    metrics: list[str]
    primary: str
    bootstrap: BootstrapParams = field(default_factory=BootstrapParams)
    slices: list[str] = field(default_factory=list)
    # Most rows in each plot file (reports/plots/*.csv, committed): see evaluate.write_plots.
    plot_rows: int = field(default=1000, metadata=between(3))


@dataclass(frozen=True)
class MetricRule:
    """Gate rule for one metric: absolute bounds and a comparison with the champion."""

    floor: float | None = None
    ceiling: float | None = None
    compare: Literal["non_inferior", "superior"] | None = None
    margin: float = field(default=0.0, metadata=between(0))


@dataclass(frozen=True)
class SliceRules:
    """Floors every slice with at least `min_rows` test rows must meet."""

    min_rows: int = field(default=30, metadata=between(1))
    floors: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceptDrop:
    """params.yaml `gate.accept_drop`: a planned, reviewed drop of compared metrics for one
    change (e.g. removing a leaky column). Against the champion it names only: each metric's
    comparison passes while the candidate is no worse than the champion by more than its
    `metrics` value (the paired interval's lower end above -value), instead of the rule's margin.
    Once another version is the champion the acceptance has expired: the gate fails until it is
    removed. Recorded in gate.json, the report and the registration's tag message."""

    reason: str  # why the drop is accepted (reviewed in the pull request)
    champion: str  # the champion it is accepted against: its version (v1.2.0) or commit
    metrics: dict[str, float]  # metric -> largest accepted drop (the metric's own units)


@dataclass(frozen=True)
class GateParams:
    """How a candidate model is blessed."""

    metrics: dict[str, MetricRule]
    slices: SliceRules = field(default_factory=SliceRules)
    confidence: float = field(default=0.95, metadata=between(0, 1, open_low=True, open_high=True))
    resamples: int = field(default=2000, metadata=between(1))
    seed: int = field(default=0, metadata=between(0))
    require_champion_model: bool = False
    allow_leaks: bool = False  # bless even when a feature alone predicts the target
    # Features reported as a leak or near-leak by `make validate` that are known when predicting:
    # the gate blesses despite them (each is named in the report and the registration).
    acknowledged_leaks: list[str] = field(default_factory=list)
    accept_drop: AcceptDrop | None = None


@dataclass(frozen=True)
class RegistryParams:
    """The model's name in the git-tag registry, the stage whose version is the champion and
    the release branch."""

    model: str
    champion_stage: str = "prod"
    branch: str = "main"  # only commits on origin's release branch are registered


@dataclass(frozen=True)
class ServeParams:
    """Limits of the prediction service."""

    max_records: int = field(default=1000, metadata=between(1))
    # None: derived from max_records (service.body_limit)
    max_body_bytes: int | None = field(default=None, metadata=between(1))


@dataclass(frozen=True)
class SweepParams:
    """`make sweep`: the grid of params.yaml paths to values, all of it or `samples` points."""

    samples: int = field(default=0, metadata=between(0))
    seed: int = field(default=0, metadata=between(0))
    grid: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class MonitorParams:
    """Where the service logs predictions, how the log rotates, and the performance alarm."""

    log_dir: Path = Path("logs/predictions")
    max_bytes: int = field(default=50_000_000, metadata=between(1))
    keep: int = field(default=20, metadata=between(1))
    performance_tolerance: float = field(default=0.05, metadata=between(0))


@dataclass(frozen=True)
class DriftParams:
    """params.yaml `drift`: per-column thresholds and the dataset's warn/fail levels."""

    alpha: float = 0.01  # corrected p-value below which a change is significant (per batch:
    # at most 1% of batches like the training data alarm, at any batch size)
    numeric_threshold: float = 0.1  # normed Wasserstein distance
    categorical_threshold: float = 0.1  # Jensen-Shannon distance (base 2)
    warn: float = 0.1  # importance-weighted share of drifting features
    fail: float = 0.3


@dataclass(frozen=True)
class Params:
    """Every knob of the pipeline (`raw` is the file as read)."""

    task: Literal["classification", "regression"]
    data: DataParams
    split: SplitParams
    model: ModelParams
    evaluate: EvaluateParams
    registry: RegistryParams
    gate: GateParams
    serve: ServeParams = field(default_factory=ServeParams)
    drift: DriftParams = field(default_factory=DriftParams)
    sweep: SweepParams = field(default_factory=SweepParams)
    monitor: MonitorParams = field(default_factory=MonitorParams)
    raw: dict[str, Any] = field(repr=False, default_factory=dict, metadata={"in_file": False})


def serving_args(params: Params, model_tag: str) -> dict[str, Any]:
    """What the service reads (a bento's arguments, fixed by `make package`): the model, params
    `serve` (request limits) and the prediction log of params `monitor`."""
    return {
        "model_tag": model_tag,
        **vars(params.serve),
        "log_dir": str(params.monitor.log_dir),
        "log_max_bytes": params.monitor.max_bytes,
        "log_keep": params.monitor.keep,
    }


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read params.yaml into typed settings; ConfigError lists every problem (one line each)."""
    raw = read_yaml(path)
    params, problems = build(Params, raw if raw is not None else {}, str(path))
    if problems:
        raise ConfigError(problems)
    return replace(params, raw=raw)


def log_folder(configured: Path) -> Path:
    """The log's folder: the environment variable PREDICTION_LOG_DIR when set, else `configured`
    (params monitor.log_dir). A relative path is relative to the server's
    working directory, which for a bento is its own folder in the BentoML store: `make serve`
    therefore sets PREDICTION_LOG_DIR to the project's folder as an absolute path, and the
    image to its volume /predictions."""
    return Path(os.environ.get(PREDICTION_LOG_ENV) or configured)
