"""Typed settings loaded from params.yaml: the one place that knows the file's layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path("params.yaml")
CONTRACT_FILE = Path("contract.yaml")
TABLE_FORMATS = (".csv", ".parquet")
TRAIN_SPLIT = Path("data/split/train.parquet")
TEST_SPLIT = Path("data/split/test.parquet")
MODEL_FILE = Path("models/model.skops")
REPORTS = Path("reports")
VALIDATION_REPORT = REPORTS / "validation.json"
METRICS_FILE = REPORTS / "metrics.json"
PLOTS_DIR = REPORTS / "plots"


@dataclass(frozen=True)
class DataParams:
    """Where the raw data lives (CSV or Parquet, by suffix); for the examples, its source."""

    raw: Path
    source: str | None = None

    def __post_init__(self) -> None:
        if Path(self.raw).suffix not in TABLE_FORMATS:
            raise ValueError(f"data.raw must end in .csv or .parquet, got {str(self.raw)!r}")
        object.__setattr__(self, "raw", Path(self.raw))


@dataclass(frozen=True)
class SplitParams:
    """How the raw data is split into train and test."""

    test_size: float
    seed: int
    stratify: bool = False


@dataclass(frozen=True)
class ModelParams:
    """The estimator as an import path plus its keyword arguments."""

    estimator: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BootstrapParams:
    """Bootstrap settings for metric confidence intervals."""

    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class EvaluateParams:
    """Which metrics to compute and how."""

    metrics: list[str]
    primary: str
    bootstrap: BootstrapParams = field(default_factory=BootstrapParams)
    slices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MetricRule:
    """Gate rule for one metric: absolute bounds and a comparison with the champion."""

    floor: float | None = None
    ceiling: float | None = None
    compare: str | None = None  # "non_inferior" or "superior"
    margin: float = 0.0

    def __post_init__(self) -> None:
        if self.compare not in (None, "non_inferior", "superior"):
            raise ValueError(f"gate compare must be non_inferior or superior, got {self.compare!r}")


@dataclass(frozen=True)
class SliceRules:
    """Floors every slice with at least `min_rows` test rows must meet."""

    min_rows: int = 30
    floors: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GateParams:
    """How a candidate model is blessed."""

    metrics: dict[str, MetricRule]
    slices: SliceRules = field(default_factory=SliceRules)
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    require_champion_model: bool = False


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

    max_records: int = 1000


@dataclass(frozen=True)
class Params:
    """Every knob of the pipeline."""

    task: str
    data: DataParams
    split: SplitParams
    model: ModelParams
    evaluate: EvaluateParams
    registry: RegistryParams
    serve: ServeParams
    gate: GateParams
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def _gate_params(raw: dict[str, Any]) -> GateParams:
    raw = dict(raw)
    metrics = {name: MetricRule(**rule) for name, rule in raw.pop("metrics").items()}
    return GateParams(metrics=metrics, slices=SliceRules(**raw.pop("slices", {})), **raw)


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read params.yaml into typed settings; unknown keys raise a clear error."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        evaluate = dict(raw["evaluate"])
        bootstrap = BootstrapParams(**evaluate.pop("bootstrap", {}))
        return Params(
            task=raw["task"],
            data=DataParams(**raw["data"]),
            split=SplitParams(**raw["split"]),
            model=ModelParams(**raw["model"]),
            evaluate=EvaluateParams(bootstrap=bootstrap, **evaluate),
            registry=RegistryParams(**raw["registry"]),
            serve=ServeParams(**raw.get("serve", {})),
            gate=_gate_params(raw["gate"]),
            raw=raw,
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"{path}: invalid or missing setting: {error}") from error
