"""The gate and the PR report in a real git repository made from a baked project."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import pytest
import yaml
from conftest import bake, make, run
from markdown_it import MarkdownIt

pytestmark = pytest.mark.slow


def git(project, *args):
    return run(["git", *args], project).stdout.strip()


def set_params(project, **model_params):
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["model"]["params"].update(model_params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def set_model(project, estimator, **model_params):
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["model"] = {"estimator": estimator, "params": model_params}
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def table_row(text: str, metric: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| `{metric}`"))
    return [cell.strip() for cell in line.strip("|").split("|")]


@pytest.fixture(scope="module")
def project(tmp_path_factory, project_env):
    """A baked project with its first model committed on main and tagged as the champion."""
    project = bake(tmp_path_factory.mktemp("gate"))
    make(project, "repro", project_env)
    gate = make(project, "gate", project_env)
    assert "gate: BLESSED" in gate.stdout
    make(project, "report", project_env)
    first = (project / "reports/report.md").read_text()
    assert "champion (none yet)" in first and "First model" in first
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "first model")
    digest = hashlib.sha256((project / "models/model.skops").read_bytes()).hexdigest()
    message = f"registered\n\nmodel: models/model.skops sha256:{digest}\n"  # as `make register`
    git(project, "tag", "-a", "churn-model@v0.1.0", "-m", message)
    return project


def test_param_change_report_has_exact_deltas_and_champion_column(project, project_env):
    git(project, "checkout", "-q", "-b", "more-regularised")
    set_params(project, C=0.5)
    make(project, "repro", project_env)
    result = make(project, "gate", project_env)
    assert "gate: BLESSED" in result.stdout
    make(project, "report", project_env, env={"GITHUB_BASE_REF": ""})
    text = (project / "reports/report.md").read_text()

    base = json.loads(git(project, "show", "main:reports/metrics.json"))["metrics"]
    head = json.loads((project / "reports/metrics.json").read_text())["metrics"]
    for metric in head:
        cells = table_row(text, metric)
        expected = head[metric]["value"] - base[metric]["value"]
        assert cells[3].startswith(f"{expected:+.4f}"), (metric, cells)
        assert cells[4] == f"{base[metric]['value']:.4f}"  # champion = the tagged first model
    assert "champion `churn-model@v0.1.0`" in text
    assert "| `model.params.C` | `1.0` | `0.5` |" in text
    gate = json.loads((project / "reports/gate.json").read_text())
    assert gate["champion"]["model_source"].startswith("DVC")
    assert gate["comparison"] == "paired" and "Champion comparison: **paired**" in text
    compared = [c for c in gate["checks"] if c["name"].endswith("vs champion")]
    assert compared and all(c["difference_interval"] for c in compared)

    assert text.startswith("<!-- churn-model-model-report -->\n")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    assert sum(t.type == "table_open" for t in tokens) >= 3
    blocks = re.findall(r"```mermaid\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2  # importance bars and the ROC curve
    for block in blocks:
        lines = block.strip().splitlines()
        if lines[0].startswith("%%{init: "):  # the lines' colours (the legend under the chart)
            assert re.fullmatch(r"%%\{init: (\{.*\})\}%%", lines[0]), lines[0]
            json.loads(lines[0][len("%%{init: ") : -len("}%%")])
            lines = lines[1:]
        assert lines[0] == "xychart-beta"
        for line in lines[1:]:
            assert re.fullmatch(
                r"  (title \".*\"|x-axis .+|y-axis .+|(bar|line) \[[-0-9., ]+\])", line
            )
    git(project, "checkout", "-q", "--", "params.yaml")


def test_sabotaged_model_fails_the_gate_naming_metric_and_bound(project, project_env):
    git(project, "checkout", "-q", "-B", "sabotage", "main")
    set_model(project, "sklearn.tree.DecisionTreeClassifier", max_depth=1)  # one split
    make(project, "repro", project_env)
    result = make(project, "gate", project_env, check=False)
    assert result.returncode != 0 and "gate: NOT_BLESSED" in result.stdout
    gate = json.loads((project / "reports/gate.json").read_text())
    assert gate["verdict"] == "NOT_BLESSED"
    failed = [c for c in gate["checks"] if not c["passed"]]
    assert any(
        c["name"] == "roc_auc vs champion" and "needs lower end > -0.02" in c["reason"]
        for c in failed
    ), failed
    make(project, "report", project_env)
    text = (project / "reports/report.md").read_text()
    assert "❌ **NOT BLESSED**" in text.splitlines()[3]
    assert "roc\\_auc is not shown non-inferior" in text  # a reason is escaped markdown


def test_a_champion_without_its_model_is_compared_with_its_record_loudly(
    project, project_env, tmp_path
):
    """No DVC cache or remote with the champion's model and no GH_TOKEN for its Release: the
    gate falls back to the recorded metrics and gate.json, the report and make gate-comparison
    say so, with the reason."""
    git(project, "checkout", "-q", "-B", "no-champion-model", "main")
    make(project, "repro", project_env)
    cache = project / ".dvc" / "cache"
    shutil.move(cache, tmp_path / "cache")
    try:
        make(project, "gate", project_env, env={"GH_TOKEN": ""}, check=False)
    finally:
        shutil.move(tmp_path / "cache", cache)
    gate = json.loads((project / "reports/gate.json").read_text())
    assert gate["comparison"] == "recorded", gate.get("comparison")
    assert "churn-model@v0.1.0" in gate["comparison_reason"]
    make(project, "report", project_env, env={"GITHUB_BASE_REF": ""})
    text = (project / "reports/report.md").read_text()
    assert f"**recorded, not paired**: {gate['comparison_reason']}" in text
    summary = tmp_path / "summary.md"
    result = make(
        project, "gate-comparison", project_env, env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert f"::warning title=Gate not paired::{gate['comparison_reason']}" in result.stdout
    assert "recorded, not paired" in summary.read_text()
