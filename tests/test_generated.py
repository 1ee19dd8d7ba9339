"""Run what the template generated: each baked project's own tests, its pipeline and its hooks."""

from __future__ import annotations

import json
import math
import re
import time

import numpy as np
import pandas as pd
import pytest
from conftest import DATASETS, bake, make, run

REMOTES = iter(["none", "local", "s3", "gs", "azure"])
RUNS = [
    {"task": task, "dataset": dataset, "dvc_remote": next(REMOTES), "python_version": "3.11"}
    for task, datasets in DATASETS.items()
    for dataset in datasets
]


def phase(name: str, started: float) -> float:
    now = time.monotonic()
    print(f"[phase] {name}: {now - started:.1f}s")
    return now


def baseline(project, target: str, task: str) -> dict[str, float]:
    """Trivial predictors scored independently of the project's code: majority class / mean."""
    train = pd.read_parquet(project / "data/split/train.parquet")[target]
    test = pd.read_parquet(project / "data/split/test.parquet")[target]
    if task == "classification":
        return {"accuracy": float((test == train.mode()[0]).mean()), "roc_auc": 0.5}
    return {"rmse": float(np.sqrt(((test - train.mean()) ** 2).mean())), "r2": 0.0}


@pytest.mark.slow
@pytest.mark.parametrize("options", RUNS, ids=lambda o: f"{o['task']}-{o['dataset']}")
def test_generated_project_checks_and_pipeline(options, tmp_path, project_env, mypy_cache):
    started = time.monotonic()
    project = bake(tmp_path, **options)
    started = phase("bake", started)
    make(project, "check", project_env, env=mypy_cache(options["python_version"]))
    started = phase("make check (ruff + the project's own pytest)", started)

    make(project, "repro", project_env)
    started = phase("make repro (cold)", started)
    report = json.loads((project / "reports/metrics.json").read_text())
    metrics = {name: entry["value"] for name, entry in report["metrics"].items()}
    assert all(math.isfinite(v) for e in report["metrics"].values() for v in e.values())
    target = (
        "target"
        if options["dataset"] != "csv"
        else ("churned" if options["task"] == "classification" else "price")
    )
    trivial = baseline(project, target, options["task"])
    if options["task"] == "classification":
        assert metrics["accuracy"] > trivial["accuracy"] + 0.05, (metrics, trivial)
        assert metrics["roc_auc"] > 0.75
    else:
        assert metrics["rmse"] < 0.9 * trivial["rmse"], (metrics, trivial)
        assert metrics["r2"] > 0.2

    model = project / "models/model.skops"
    before = (model.stat().st_mtime_ns, (project / "dvc.lock").read_text())
    again = make(project, "repro", project_env)
    assert "Data and pipelines are up to date" in again.stdout
    assert "Running stage" not in again.stdout
    assert (model.stat().st_mtime_ns, (project / "dvc.lock").read_text()) == before
    started = phase("make repro (no-op)", started)

    # The same data as Parquet (params data.raw, which dvc.yaml interpolates): only the stages
    # that read the raw file rerun; the split is byte-identical, so nothing is retrained.
    raw = project / "data/raw/dataset.csv"
    if options["dataset"] == "csv":
        pd.read_csv(raw).to_parquet(raw.with_suffix(".parquet"), index=False)
    params = (project / "params.yaml").read_text()
    assert "raw: data/raw/dataset.csv" in params
    (project / "params.yaml").write_text(params.replace("dataset.csv", "dataset.parquet"))
    switched = make(project, "repro", project_env)
    started = phase("make repro (raw data as Parquet)", started)
    ran = set(re.findall(r"Running stage '(\w+)'", switched.stdout))
    assert ran == {"validate", "split"} | ({"ingest"} if options["dataset"] != "csv" else set())
    assert "data/raw/dataset.parquet" in (project / "dvc.lock").read_text()
    assert model.stat().st_mtime_ns == before[0]

    # As generated, every task and example is BLESSED and registers its first version; with a
    # cloud remote and no bucket, register first refuses in one line and tags nothing.
    first = f"{project.name}@v0.1.0"
    for key, value in (("user.email", "t@example.com"), ("user.name", "T")):
        run(["git", "config", key, value], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "first model"], project)
    run(["git", "init", "-q", "--bare", "-b", "main", "origin.git"], tmp_path)
    run(["git", "remote", "add", "origin", str(tmp_path / "origin.git")], project)
    run(["git", "push", "-q", "origin", "main"], project)
    assert "gate: BLESSED" in make(project, "gate", project_env).stdout
    registered = make(project, "register", project_env, check=False)
    tags = run(["git", "ls-remote", "--tags", "origin"], project).stdout
    if options["dvc_remote"] not in ("none", "local"):
        errors = [line for line in registered.stderr.splitlines() if not line.startswith("make")]
        assert errors == [errors[0]] and "`dvc push` failed, nothing was registered" in errors[0]
        assert tags == ""
        # The bucket, stood in for by a folder: the same commit flow then registers.
        run(["dvc", "remote", "modify", "storage", "url", str(tmp_path / "storage")], project)
        run(["git", "commit", "-qam", "DVC remote: a local folder"], project)
        run(["git", "push", "-q", "origin", "main"], project)
        assert "gate: BLESSED" in make(project, "gate", project_env).stdout
        registered = make(project, "register", project_env, check=False)
        tags = run(["git", "ls-remote", "--tags", "origin"], project).stdout
    assert f"register: {first} on " in registered.stdout, registered.stderr
    assert {line.split("refs/tags/")[1] for line in tags.splitlines() if "^{}" not in line} == {
        first
    }
    message = run(["git", "tag", "--list", "--format=%(contents)", first], project).stdout
    assert "gate: BLESSED" in message
    phase("gate + register (first version)", started)


@pytest.mark.slow
def test_pre_commit_passes_on_a_fresh_project(tmp_path, project_env):
    """The hooks pass on what a user commits: the generated files, a raw CSV whose quoted fields
    end in spaces (left byte for byte as it came) and the .dvc file `dvc add` writes (a hash the
    secret scanner must not take for a secret). The hooks run .venv's tools, the lock's versions
    (`make setup` creates .venv; here it is the tests' environment, which holds the same)."""
    project = bake(tmp_path)
    (project / ".venv").symlink_to(project_env)
    raw = project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    table = b'name,city \n"Smith  ",Oslo\n"Lee ",Rome'
    (raw / "people.csv").write_bytes(table)
    (raw / "people.csv.dvc").write_text(
        "outs:\n- md5: 9e107d9d372bb6826bd81d3542a419d6\n  size: 41\n  hash: md5\n"
        "  path: people.csv\n"
    )
    run(["git", "add", "-A"], project)
    result = run(
        [str(project_env / "bin" / "pre-commit"), "run", "--all-files"],
        project,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Failed" not in result.stdout
    assert (raw / "people.csv").read_bytes() == table
