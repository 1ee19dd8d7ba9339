"""Smoke test: run every stage of dvc.yaml, in order, in a scratch copy of the project (through
the CLI entry point the stage's command names, in this process: the imports are paid once)."""

import json
import math
import shlex

import yaml

from actions_mlops import cli
from actions_mlops.core.config import (
    METRICS_FILE,
    MODEL_FILE,
    TEST_SPLIT,
    TRAIN_SPLIT,
)
from actions_mlops.data.tables import (
    write_table,
)


def smaller(workdir) -> None:
    """Fewer trees and resamples in the scratch params: the same stages, a fraction of the time."""
    path = workdir / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["evaluate"]["bootstrap"]["resamples"] = 200
    if "n_estimators" in (params["model"].get("params") or {}):
        params["model"]["params"]["n_estimators"] = 20
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def test_every_stage_runs_and_produces_finite_metrics(workdir, params):
    smaller(workdir)
    stages = yaml.safe_load((workdir / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        command = shlex.split(stage["cmd"])
        assert command[:3] == ["python", "-m", "actions_mlops"], (
            f"stage {name} should run through the project CLI"
        )
        assert cli.main(command[3:]) == 0, f"stage {name} failed"
    assert MODEL_FILE.exists()
    metrics = json.loads(METRICS_FILE.read_text())["metrics"]
    assert set(metrics) == set(params.evaluate.metrics)
    for name, entry in metrics.items():
        assert all(math.isfinite(entry[key]) for key in ("value", "ci_low", "ci_high")), name
        assert entry["ci_low"] <= entry["value"] <= entry["ci_high"], name


def test_parquet_raw_data_gives_the_same_split_as_csv(workdir, project_frame, params):
    """Pointing data.raw at a Parquet copy of the data changes nothing downstream: validation
    passes and the split files are byte-identical, so `dvc repro` retrains nothing."""
    frame, path = project_frame(), workdir / "params.yaml"
    splits = {}
    for suffix in (".csv", ".parquet"):
        raw = params.data.raw.with_suffix(suffix)
        write_table(frame, raw)
        settings = yaml.safe_load(path.read_text())
        settings["data"]["raw"] = raw.as_posix()
        path.write_text(yaml.safe_dump(settings, sort_keys=False))
        assert cli.main(["validate"]) == 0 and cli.main(["split"]) == 0, suffix
        splits[suffix] = (TRAIN_SPLIT.read_bytes(), TEST_SPLIT.read_bytes())
    assert splits[".csv"] == splits[".parquet"]
