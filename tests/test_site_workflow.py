"""site.yml under act, as GitHub would run it on a dispatch: a project with a registered and
promoted version and two monitor runs kept as monitor.yml's artifacts (one drifted); the build
job gathers them (make monitor-history, the `gh` stand-in answering `gh run list|download`),
builds the site and uploads it; the deploy job deploys that artifact (a stand-in that unpacks it
as the published site). Only the deploy job may write to Pages."""

from __future__ import annotations

import json
import shutil
import sys

import pandas as pd
import pytest
import yaml
from conftest import run
from test_github import Day, fast_params, github_state

pytestmark = [pytest.mark.github, pytest.mark.slow]


def test_site_yml_builds_and_deploys_the_registry_site(tmp_path):
    day = Day(tmp_path)
    workflow = yaml.safe_load((day.project / ".github/workflows/site.yml").read_text())
    assert workflow["jobs"]["build"]["permissions"] == {"contents": "read", "actions": "read"}
    assert workflow["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}

    fast_params(day)
    day.make("repro")
    day.commit("Initial project")
    day.git("push", "-q", "origin", "main")
    day.make("gate")
    day.make("register")  # v0.1.0, its tag pushed to origin
    promote = ["make", "promote", f"VENV={sys.prefix}"]
    run(promote, day.project, env={"VERSION": "v0.1.0", "STAGE": "prod"})

    # Two monitor runs as GitHub keeps them: monitor.yml's artifact `monitor-report` of each.
    data = day.project / "data" / "raw" / "dataset.csv"
    frame = pd.read_csv(data)
    numeric = list(frame.select_dtypes("number").columns)[:5]
    frame[numeric] = frame[numeric] + 3 * frame[numeric].std()
    frame.to_csv(day.state / "drifted.csv", index=False)
    runs = []
    for run_id, batch in ((901, data), (902, day.state / "drifted.csv")):
        monitor = ["make", "monitor", f"VENV={sys.prefix}"]
        run(monitor, day.project, env={"BATCH": str(batch)}, check=False)
        kept = day.state / "artifacts" / str(run_id) / "monitor-report"
        kept.mkdir(parents=True)
        shutil.copy(day.project / "reports" / "monitor.json", kept / "monitor.json")
        created = f"2026-12-0{run_id - 900}T06:17:00Z"
        runs.append(
            {"databaseId": run_id, "createdAt": created, "status": "completed"}
            | {"workflow": "monitor.yml"}
        )
    state = github_state(day) if (day.state / "github.json").exists() else {}
    (day.state / "github.json").write_text(json.dumps(state | {"runs": runs}))

    site = day.act("workflow_dispatch", "site.yml", {"inputs": {}})
    site.report("site.yml, dispatched")
    assert site.ok, site.log[-6000:]
    for step in ("make monitor-history", "make site"):
        assert site.step(step) is True, site.log[-6000:]
    assert "2 monitor reports in reports/monitor-history/" in site.log
    uploaded, deployed = (
        next(s for s in day.standins() if s["action"] == action)
        for action in ("actions/upload-pages-artifact", "actions/deploy-pages")
    )
    assert uploaded["job"] == "build" and deployed["job"] == "deploy"
    assert {"index.html", "drift.html", "versions/v0.1.0.html"} <= set(uploaded["files"])
    assert deployed["url"] == f"https://example-org.github.io/{day.name}/"

    published = day.state / "pages"
    index = (published / "index.html").read_text()
    assert 'data-stage="prod"' in index and "v0.1.0</a>" in index
    drift = (published / "drift.html").read_text()
    assert "2026-12-01T06-17-00Z-run901" in drift and "2026-12-02T06-17-00Z-run902" in drift
    assert drift.count('class="run drifted"') == 1
