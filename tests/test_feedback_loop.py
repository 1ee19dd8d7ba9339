"""The production feedback loop with real git: retraining comes back as a branch, never main."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import bake, make, run

pytestmark = pytest.mark.slow


def test_retrain_pushes_a_branch_with_a_changed_dvc_lock_and_leaves_main(tmp_path, project_env):
    origin = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    project = bake(tmp_path / "work", task="regression", dataset="csv")
    make(project, "repro", project_env)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "first model"], project)
    run(["git", "remote", "add", "origin", str(origin)], project)
    run(["git", "push", "-q", "origin", "main"], project)
    main_before = run(["git", "rev-parse", "main"], origin).stdout

    nothing = make(project, "retrain-branch", project_env)
    assert "nothing to propose" in nothing.stdout

    raw = project / "data/raw/dataset.csv"  # the refreshed data: new rows arrived
    frame = pd.read_csv(raw)
    new = frame.sample(300, random_state=1).assign(house_id=[f"N{i:05d}" for i in range(300)])
    new["area_m2"] = (new["area_m2"] * 1.05).round(1)
    pd.concat([frame, new]).to_csv(raw, index=False)
    make(project, "repro", project_env)
    result = make(project, "retrain-branch", project_env, env={"REASON": "new rows"})
    branches = run(["git", "branch", "--list", "retrain/*", "--format=%(refname:short)"], origin)
    (branch,) = branches.stdout.split()
    assert f"pushed {branch}" in result.stdout
    changed = run(["git", "diff", "--name-only", "main", branch], origin).stdout.split()
    assert "dvc.lock" in changed and "reports/metrics.json" in changed
    assert run(["git", "log", "-1", "--format=%s", branch], origin).stdout.strip() == (
        "Retrain: new rows"
    )
    assert run(["git", "rev-parse", "main"], origin).stdout == main_before  # main untouched
