"""A smoke run of the pipeline on this project's data: settings checked, then validate, split,
train and evaluate, each as `actions-mlops <step>` runs it, in a scratch copy of the project
(in this process: one import of the libraries instead of one per step)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from actions_mlops.cli import main
from actions_mlops.core.config import METRICS_FILE, MODEL_FILE, Params

ROOT = Path(__file__).resolve().parents[1]

STEPS = ("check", "validate", "split", "train", "evaluate")


def test_the_pipeline_runs_on_this_project_s_data(
    params: Params, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("params.yaml", "contract.yaml", "dvc.yaml", "bentofile.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "src", tmp_path / "src")
    raw = ROOT / params.data.raw
    if params.data.source is None and not raw.is_file():
        pytest.skip(f"{params.data.raw} is not here: `make pull` (or `dvc pull`) first")
    steps = ("ingest", *STEPS) if params.data.source is not None else STEPS
    if params.data.source is None:
        (tmp_path / params.data.raw).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(raw, tmp_path / params.data.raw)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    for step in steps:
        assert main([step]) == 0, f"actions-mlops {step} failed (its output is above)"
    assert (tmp_path / MODEL_FILE).is_file()
    metrics = json.loads((tmp_path / METRICS_FILE).read_text(encoding="utf-8"))
    assert metrics["primary"] in metrics["metrics"]
