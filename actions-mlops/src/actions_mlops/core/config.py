"""Typed settings loaded from params.yaml: the one place that knows the file's layout."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr

from actions_mlops.core.typed import (
    AS_WRITTEN,
    ConfigError,
    Count,
    FilePath,
    Number,
    Positive,
    Probability,
    Settings,
    build,
    locate,
    read_yaml,
    suffixed,
)

PARAMS_FILE = Path("params.yaml")
CONTRACT_FILE = Path("contract.yaml")
BENTOFILE = Path("bentofile.yaml")
SOURCE_DIR = Path("src")  # the project's own package: src/<package>/
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


class DataParams(Settings):
    """Where the raw data lives (CSV or Parquet, by suffix); for the examples, its source."""

    raw: Annotated[FilePath, suffixed(*TABLE_FORMATS)]
    source: str | None = None


class SplitParams(Settings):
    """How the raw data is split into train and test."""

    test_size: Probability
    seed: Count
    stratify: bool = False


class OneHotParams(Settings):
    """Caps on the one-hot encoding of text columns: values seen in fewer than `min_frequency`
    training rows, and those beyond the `max_categories` most frequent, share one "infrequent"
    column (scikit-learn's OneHotEncoder), as do values first seen in serving. None: no cap."""

    max_categories: Annotated[int, Field(ge=2)] | None = None
    min_frequency: Positive | None = None


class ModelParams(Settings):
    """The estimator as an import path plus its keyword arguments, and how text columns are
    encoded for it."""

    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)
    one_hot: OneHotParams = Field(default_factory=OneHotParams)
    # The preprocessing half of the model: `module:function(contract, one_hot)` returning a
    # scikit-learn transformer. A project's own src/<package>/features.py is named here.
    features: str = "actions_mlops.data.features:default_features"


class BootstrapParams(Settings):
    """Bootstrap settings for metric confidence intervals."""

    resamples: Positive = 1000
    confidence: Probability = 0.95
    seed: Count = 0


class EvaluateParams(Settings):
    """Which metrics to compute and how."""

    metrics: list[str]
    primary: str
    bootstrap: BootstrapParams = Field(default_factory=BootstrapParams)
    slices: list[str] = Field(default_factory=list)
    # Most rows in each plot file (reports/plots/*.csv, committed): see evaluate.write_plots.
    plot_rows: Annotated[int, Field(ge=3)] = 1000


class MetricRule(Settings):
    """Gate rule for one metric: absolute bounds and a comparison with the champion."""

    floor: Number | None = None
    ceiling: Number | None = None
    compare: Literal["non_inferior", "superior"] | None = None
    margin: Annotated[float, Field(ge=0), AS_WRITTEN] = 0.0


class SliceRules(Settings):
    """Floors every slice with at least `min_rows` test rows must meet."""

    min_rows: Positive = 30
    floors: dict[str, Number] = Field(default_factory=dict)


class AcceptDrop(Settings):
    """params.yaml `gate.accept_drop`: a planned, reviewed drop of compared metrics for one
    change (e.g. removing a leaky column). Against the champion it names only: each metric's
    comparison passes while the candidate is no worse than the champion by more than its
    `metrics` value (the paired interval's lower end above -value), instead of the rule's margin.
    Once another version is the champion the acceptance has expired: the gate fails until it is
    removed. Recorded in gate.json, the report and the registration's tag message."""

    reason: str  # why the drop is accepted (reviewed in the pull request)
    champion: str  # the champion it is accepted against: its version (v1.2.0) or commit
    metrics: dict[str, Number]  # metric -> largest accepted drop (the metric's own units)


class GateParams(Settings):
    """How a candidate model is blessed."""

    metrics: dict[str, MetricRule]
    slices: SliceRules = Field(default_factory=SliceRules)
    confidence: Probability = 0.95
    resamples: Positive = 2000
    seed: Count = 0
    require_champion_model: bool = False
    allow_leaks: bool = False  # bless even when a feature alone predicts the target
    # Features reported as a leak or near-leak by `make validate` that are known when predicting:
    # the gate blesses despite them (each is named in the report and the registration).
    acknowledged_leaks: list[str] = Field(default_factory=list)
    accept_drop: AcceptDrop | None = None


class RegistryParams(Settings):
    """The model's name in the git-tag registry, the stage whose version is the champion and
    the release branch."""

    model: str
    champion_stage: str = "prod"
    branch: str = "main"  # only commits on origin's release branch are registered


# A function by import path, `module:function` (serve.preprocess, serve.postprocess).
Hook = Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]


class ServeParams(Settings):
    """Limits of the prediction service."""

    max_records: Positive = 1000
    # None: derived from max_records (service.body_limit)
    max_body_bytes: Positive | None = None
    # The HTTP server's own limits, per worker (serving/limits.py, service.BodyLimit).
    max_connections: Positive = 256
    header_timeout_s: Annotated[float, Field(gt=0, le=300), AS_WRITTEN] = 10
    body_timeout_s: Annotated[float, Field(gt=0, le=300), AS_WRITTEN] = 20
    keep_alive_s: Annotated[int, Field(ge=1, le=300)] = 5
    # Hooks around the model (serving/hooks.py): `module:function` of the project's package.
    preprocess: Hook | None = None
    postprocess: Hook | None = None


class SweepParams(Settings):
    """`make sweep`: the grid of params.yaml paths to values, all of it or `samples` points."""

    samples: Count = 0
    seed: Count = 0
    grid: dict[str, list[Any]] = Field(default_factory=dict)


class MonitorParams(Settings):
    """Where the service logs predictions, how the log rotates, and the performance alarm."""

    log_dir: FilePath = Path("logs/predictions")
    max_bytes: Positive = 50_000_000
    keep: Positive = 20
    performance_tolerance: Annotated[float, Field(ge=0), AS_WRITTEN] = 0.05


class DriftParams(Settings):
    """params.yaml `drift`: per-column thresholds and the dataset's warn/fail levels."""

    alpha: Number = 0.01  # corrected p-value below which a change is significant (per batch:
    # at most 1% of batches like the training data alarm, at any batch size)
    numeric_threshold: Number = 0.1  # normed Wasserstein distance
    categorical_threshold: Number = 0.1  # Jensen-Shannon distance (base 2)
    warn: Number = 0.1  # importance-weighted share of drifting features
    fail: Number = 0.3


class Params(Settings):
    """Every knob of the pipeline (`raw` is the file as read)."""

    task: Literal["classification", "regression"]
    data: DataParams
    split: SplitParams
    model: ModelParams
    evaluate: EvaluateParams
    registry: RegistryParams
    gate: GateParams
    serve: ServeParams = Field(default_factory=ServeParams)
    drift: DriftParams = Field(default_factory=DriftParams)
    sweep: SweepParams = Field(default_factory=SweepParams)
    monitor: MonitorParams = Field(default_factory=MonitorParams)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict[str, Any]:
        """params.yaml's mapping as read (sweeps and reports look up keys by path)."""
        return self._raw


class ServingSettings(Settings):
    """What one bento serves (its arguments, fixed by `make package`): the model, params
    `serve` (request limits) and `monitor` (the prediction log)."""

    model_tag: str
    package: str | None = None  # the project's own package (own_package), in the bento
    serve: ServeParams = Field(default_factory=ServeParams)
    monitor: MonitorParams = Field(default_factory=MonitorParams)


def serving_args(params: Params, model_tag: str) -> dict[str, Any]:
    """The bento's arguments: ServingSettings as JSON values."""
    settings = ServingSettings(
        model_tag=model_tag, package=own_package(), serve=params.serve, monitor=params.monitor
    )
    return settings.model_dump(mode="json")


def own_package(source: Path = SOURCE_DIR) -> str | None:
    """The project's own package, the one folder of src/ with an __init__.py (as the template
    bakes it), or None: the bento carries it, the model file may hold the types it defines
    (core/modelfile.py) and the service's hooks are its functions."""
    found = sorted(init.parent.name for init in source.glob("*/__init__.py"))
    return found[0] if len(found) == 1 else None


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read params.yaml into typed settings; ConfigError lists every problem (one line each)."""
    raw = read_yaml(path)
    params, problems = build(Params, raw if raw is not None else {}, str(path))
    if problems:
        raise ConfigError(locate(problems, path))
    params._raw = raw
    return params


def log_folder(configured: Path) -> Path:
    """The log's folder: the environment variable PREDICTION_LOG_DIR when set, else `configured`
    (params monitor.log_dir). A relative path is relative to the server's
    working directory, which for a bento is its own folder in the BentoML store: `make serve`
    therefore sets PREDICTION_LOG_DIR to the project's folder as an absolute path, and the
    image to its volume /predictions."""
    return Path(os.environ.get(PREDICTION_LOG_ENV) or configured)
