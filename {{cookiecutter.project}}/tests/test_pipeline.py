"""Smoke test: run every stage of dvc.yaml, in order, in a scratch copy of the project."""

import json
import math
import shlex
import subprocess
import sys

import yaml

from {{ cookiecutter.package }}.config import (
    METRICS_FILE,
    MODEL_FILE,
)


def test_every_stage_runs_and_produces_finite_metrics(workdir, params):
    stages = yaml.safe_load((workdir / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        command = shlex.split(stage["cmd"])
        assert command[0] == "python", f"stage {name} should run through the project CLI"
        subprocess.run([sys.executable, *command[1:]], check=True, cwd=workdir)
    assert MODEL_FILE.exists()
    metrics = json.loads(METRICS_FILE.read_text())["metrics"]
    assert set(metrics) == set(params.evaluate.metrics)
    for name, entry in metrics.items():
        assert all(math.isfinite(entry[key]) for key in ("value", "ci_low", "ci_high")), name
        assert entry["ci_low"] <= entry["value"] <= entry["ci_high"], name
