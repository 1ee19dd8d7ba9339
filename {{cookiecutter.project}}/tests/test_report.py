import json
import re

import pytest
from markdown_it import MarkdownIt

from {{ cookiecutter.package }}.core.config import (
    METRICS_FILE,
    REPORTS,
)
from {{ cookiecutter.package }}.release import report


def write(path, payload):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))


@pytest.fixture
def reports(workdir, params):
    metrics = {
        name: {"value": 0.5 + i / 10, "ci_low": 0.45 + i / 10, "ci_high": 0.55 + i / 10}
        for i, name in enumerate(params.evaluate.metrics)
    }
    write(METRICS_FILE, {"primary": params.evaluate.primary, "test_rows": 100, "metrics": metrics})
    return metrics


def mermaid_blocks(text):
    return re.findall(r"```mermaid\n(.*?)```", text, flags=re.S)


def test_report_starts_with_the_marker_and_parses(reports):
    text = report.build_report()
    assert text.startswith(report.MARKER + "\n")
    assert "NOT GATED" in text and "nothing to compare with" in text
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    assert any(t.type == "table_open" for t in tokens)


def test_verdict_names_the_failed_check(reports, params):
    gate = {
        "verdict": "NOT_BLESSED",
        "blessed": False,
        "champion": None,
        "notes": [],
        "checks": [
            {"name": "x floor", "metric": "x", "passed": False, "reason": "x 0.1000 < floor 0.5"}
        ],
    }
    write(REPORTS / "gate.json", gate)
    text = report.build_report()
    assert "❌ **NOT BLESSED**" in text and "x 0.1000 < floor 0.5" in text


def test_long_tables_stay_under_the_comment_limit(reports, params):
    groups = [{"value": f"v{i}" * 50, "rows": 40} for i in range(5000)]
    write(REPORTS / "slices.json", {f"column{i}": groups for i in range(20)})
    write(REPORTS / "importance.json", [{"feature": 'a "quoted" name', "importance": 0.1}])
    text = report.build_report()
    assert len(text) < report.GITHUB_LIMIT
    for block in mermaid_blocks(text):
        lines = block.strip().splitlines()
        assert lines[0] == "xychart-beta"
        assert all(re.fullmatch(r"  (title|x-axis|y-axis|bar|line) .+", line) for line in lines[1:])
        bar = next(line for line in lines if line.startswith("  bar"))
        assert len(json.loads(bar.split(" ", 3)[3])) == 1


def test_delta_marks_follow_the_metric_direction():
    assert report.delta_cell("rmse", -1.0, False).endswith("▲ better")
    assert report.delta_cell("r2", -0.1, False).endswith("▼ worse")
    assert report.delta_cell("r2", 0.01, True).endswith("within noise")


@pytest.mark.parametrize("rows", [0, 3, 25])
def test_calibration_chart_survives_tiny_splits_and_constant_predictions(reports, rows):
    """A 3-row test split or a model that predicts one value must not break the report."""
    plots = report.PLOTS_DIR
    plots.mkdir(parents=True, exist_ok=True)
    actual = [float(i) for i in range(rows)]
    lines = ["actual,predicted"] + [f"{a},{1.5}" for a in actual]
    (plots / "predictions.csv").write_text("\n".join(lines) + "\n")
    text = "\n".join(report.charts_section("regression", "r2"))
    blocks = mermaid_blocks(text)
    assert len(blocks) == (1 if rows else 0)
    if rows:
        predicted = next(line for line in blocks[0].splitlines() if line.startswith("  line"))
        assert len(json.loads(predicted.split(" ", 3)[3])) == min(10, rows)


def test_an_unpaired_champion_difference_inside_the_interval_is_noise():
    """Metrics the gate does not compare have no paired interval: a champion value inside this
    branch's interval must read as noise, one outside as a real difference."""
    current = {
        "primary": "a",
        "metrics": {"accuracy": {"value": 0.95, "ci_low": 0.92, "ci_high": 0.98}},
    }
    for champion_value, mark in ((0.96, "≈ within noise (unpaired)"), (0.99, "▼ worse (unpaired)")):
        gate = {
            "champion": {
                "tag": "m@v1.0.0",
                "metrics": {"metrics": {"accuracy": {"value": champion_value}}},
            }
        }
        row = report.metrics_table(current, None, gate, "main")[-1]
        assert row.rstrip(" |").endswith(mark), row


def test_the_data_section_states_validation_once(reports):
    assert "validation against `contract.yaml`: not run" in report.build_report()
    (REPORTS / "validation.md").write_text("### Data validation: ❌ failed\n", encoding="utf-8")
    text = report.build_report()
    assert text.count("validation") == 1 and "### Data validation: ❌ failed" in text
