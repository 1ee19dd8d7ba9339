"""A local hyperparameter sweep runs as DVC experiments and is ranked by the primary metric."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import bake, make, run

pytestmark = pytest.mark.slow


def test_sweep_of_four_points_is_ranked_by_the_primary_metric(tmp_path, project_env):
    project = bake(tmp_path, task="regression", dataset="diabetes")
    params_file = project / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["sweep"]["grid"] = {
        "model.params.alpha": [0.1, 100.0],
        "model.params.fit_intercept": [True, False],
    }
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "baseline"], project)  # dvc exp --temp runs from HEAD

    result = make(project, "sweep", project_env)
    ranking = json.loads((project / "reports/sweep.json").read_text())
    assert len(ranking) == 4
    # Independently of the project's code: read every experiment's metric from DVC.
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    values = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                metrics = rev["data"]["metrics"]["reports/metrics.json"]["data"]["metrics"]
                values[rev["name"]] = metrics["rmse"]["value"]
    assert [r["name"] for r in ranking] == sorted(values, key=values.get)  # rmse: lower first
    assert [r["value"] for r in ranking] == sorted(values.values())
    best = ranking[0]["params"]
    # The target's mean is far from 0: without an intercept no point can be best. (DVC's
    # exp show reports a boolean param as the text "True".)
    assert best["model.params.fit_intercept"] in (True, "True")
    assert result.stdout.count("| sweep-") == 4
    untouched = run(
        ["git", "status", "--porcelain", "--", "params.yaml", "dvc.lock", "models"], project
    )
    assert untouched.stdout == ""  # the experiments ran in temporary copies
