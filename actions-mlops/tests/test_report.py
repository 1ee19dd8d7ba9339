import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from actions_mlops.core.config import (
    GATE_FILE,
    METRICS_FILE,
    PLOTS_DIR,
    REPORTS,
    SLICES_FILE,
    VALIDATION_REPORT,
    load_params,
)
from actions_mlops.release import report


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
    assert text.startswith(report.marker(load_params().registry.model) + "\n")
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
    assert "❌ **NOT BLESSED**" in text and "x 0.1000 \\< floor 0.5" in text  # escaped


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


def git(*args: str) -> str:
    """Run git in the working directory (a scratch repository); its output."""
    identity = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
    result = subprocess.run(["git", *identity, *args], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def lock(raw: Path, data_md5: str, train_md5: str) -> str:
    """A dvc.lock whose validate stage reads the raw data and train stage reads train.py."""
    stages = {
        "validate": {"deps": [{"path": raw.as_posix(), "md5": data_md5}]},
        "train": {
            "deps": [
                {"path": "src/pkg/training/train.py", "md5": train_md5},
                {"path": "data/split/train.parquet", "md5": "split"},
            ]
        },
    }
    return yaml.safe_dump({"schema": "2.0", "stages": stages})


@pytest.fixture
def main_branch(reports, params):
    """The scratch folder as a repository whose main has a lock, a validation report and
    metrics committed: the base the report compares with."""
    Path("dvc.lock").write_text(lock(params.data.raw, "aaaa1111", "code-v1"))
    write(VALIDATION_REPORT, {"rows": 500, "findings": []})
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-qm", "base")
    git("checkout", "-qb", "change")
    return params


def test_the_report_says_what_changed_in_the_contract_data_and_code(main_branch):
    """A branch that drops a column, brings new data and edits train.py: each change is named
    (before, a contract change showed as "No params changed" and nothing else)."""
    raw = main_branch.data.raw
    contract = yaml.safe_load(Path("contract.yaml").read_text())
    dropped = next(name for name, c in contract["columns"].items() if c.get("role") != "target")
    del contract["columns"][dropped]
    Path("contract.yaml").write_text(yaml.safe_dump(contract))
    Path("dvc.lock").write_text(lock(raw, "bbbb2222", "code-v2"))
    write(VALIDATION_REPORT, {"rows": 640, "findings": []})
    git("commit", "-qam", "change")
    text = report.build_report("main")
    section = text.split("### What changed", 1)[1].split("\n### ", 1)[0]
    assert f"column `{dropped}` removed" in section
    assert f"data `{raw}` **changed** since base `main`: 500 → 640 rows" in section
    assert "md5 `aaaa1111` → `bbbb2222`" in section
    assert "`train`: `src/pkg/training/train.py`" in section and "`validate`" not in section


def test_an_unchanged_branch_says_so(main_branch):
    section = report.build_report("main").split("### What changed", 1)[1]
    assert "contract: unchanged since base `main`" in section
    assert "unchanged since base `main` (500 rows" in section
    assert "no stage's code changed since base `main`" in section


def test_reproduce_locally_names_uncommitted_inputs(main_branch):
    """With uncommitted params, `git checkout HEAD` would rebuild the committed model, not the
    one the report shows: the footer says to commit first and names the file."""
    head = git("rev-parse", "--short=7", "HEAD")
    # Only outputs changed (dvc.lock, reports/): checking out HEAD and `make repro` reproduce it.
    Path("dvc.lock").write_text(lock(main_branch.data.raw, "cccc", "code-v3"))
    write(METRICS_FILE, json.loads(METRICS_FILE.read_text()) | {"test_rows": 101})
    clean = report.build_report("main").rstrip().splitlines()[-1]
    assert clean == f"Reproduce locally: `git checkout {head} && make repro gate report`"
    Path("params.yaml").write_text(Path("params.yaml").read_text() + "\n# tuned\n")
    dirty = report.build_report("main").rstrip().splitlines()[-1]
    assert "uncommitted changes to `params.yaml`" in dirty and "commit them" in dirty
    assert f"`git checkout {head} && make repro" not in dirty


def test_multiclass_roc_lines_are_labelled_with_their_class(reports):
    PLOTS_DIR.mkdir(parents=True, exist_ok=True)
    rows = ["class,fpr,tpr"]
    for label in ("setosa", "versicolor", "virginica"):
        rows += [f"{label},0,0", f"{label},0.2,0.9", f"{label},1,1"]
    (PLOTS_DIR / "roc.csv").write_text("\n".join(rows) + "\n")
    text = "\n".join(report.charts_section("classification", "roc_auc"))
    block = mermaid_blocks(text)[0]
    assert block.count("  line [") == 3 and "plotColorPalette" in block
    legend = next(line for line in text.splitlines() if line.startswith("Lines: "))
    assert legend.index("`setosa`") < legend.index("`versicolor`") < legend.index("`virginica`")
    assert "🟦 `setosa` (AUC 0.850)" in legend


def test_the_confusion_matrix_is_square_when_a_class_is_never_predicted(reports):
    PLOTS_DIR.mkdir(parents=True, exist_ok=True)
    rows = ["actual,predicted", "a,a", "b,b", "c,a", "d,b"]
    (PLOTS_DIR / "confusion.csv").write_text("\n".join(rows) + "\n")
    lines = report.charts_section("classification", "roc_auc")
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == "| | `a` | `b` | `c` | `d` |"
    assert "| **`c`** | 1 | 0 | 0 | 0 |" in table and len(table) == 5


def test_long_feature_names_are_shortened_with_the_full_name_in_a_footnote(reports):
    long = "customer_lifetime_value_in_euros_last_12_months"
    write(REPORTS / "importance.json", [{"feature": long, "importance": 0.2}])
    text = "\n".join(report.charts_section("classification", "roc_auc"))
    short = long[: report.LABEL_WIDTH - 1] + "…"
    assert json.dumps(short) in mermaid_blocks(text)[0]
    assert f"`{short}` = `{long}`" in text


def test_slices_with_too_few_rows_are_summarised_in_one_line(reports, params):
    """A date column as a slice: 260 one-row values read as one line, in the slice table and in
    the gate's checks (before: 260 rows of each)."""
    min_rows = params.gate.slices.min_rows
    tiny = [{"value": f"2024-01-{i:03d}", "rows": 1} for i in range(260)]
    big = [{"value": "all the rest", "rows": min_rows + 10}]
    write(SLICES_FILE, {"day": big + tiny})
    checks = [
        {
            "name": f"slice day={g['value']} f1",
            "metric": "f1",
            "passed": True,
            "reason": f"not gated: 1 rows < min_rows {min_rows}",
        }
        for g in tiny
    ]
    checks.append({"name": "f1 floor", "metric": "f1", "passed": True, "reason": "ok"})
    write(GATE_FILE, {"blessed": True, "champion": None, "notes": [], "checks": checks})
    text = report.build_report()
    assert "2024-01-000" not in text.replace("`2024-01-000`", "")  # only as an example
    assert f"260 values with fewer than {min_rows} test rows each (260 rows in all" in text
    assert "| `all the rest` |" in text
    assert text.count("not gated") == 2  # the slices' summary and the gate's one row
    assert "| ⚪ | 260 slice checks |" in text


def test_a_sampled_confusion_matrix_says_it_shows_shares(reports):
    PLOTS_DIR.mkdir(parents=True, exist_ok=True)
    (PLOTS_DIR / "confusion.csv").write_text("actual,predicted\na,a\nb,b\na,b\n")
    sampled = "\n".join(report.charts_section("classification", "roc_auc", test_rows=30_000))
    assert "share of the 30000 test rows, scaled to 3" in sampled
    whole = "\n".join(report.charts_section("classification", "roc_auc", test_rows=3))
    assert "share" not in whole


def test_an_accepted_drop_and_acknowledged_leaks_are_stated_first(reports):
    """What params let through the gate (gate.accept_drop, gate.acknowledged_leaks) is stated
    under the verdict, with the reason and each column's score, for the reviewer."""
    gate = {
        "verdict": "BLESSED",
        "blessed": True,
        "champion": None,
        "notes": [],
        "checks": [],
        "leaks": [
            {
                "column": "share",
                "kind": "near-leak",
                "score": "balanced accuracy 0.9720",
                "acknowledged": True,
            },
        ],
        "accepted_drop": {
            "reason": "drop the leaky expenditure column",
            "champion": "v0.1.0",
            "metrics": {"roc_auc": 0.2},
            "applied": True,
        },
    }
    write(GATE_FILE, gate)
    text = report.build_report()
    head = text.split("### ")[0]
    assert (
        "⚠️ Accepted metric drop (applied; params.yaml `gate.accept_drop`, against champion "
        "`v0.1.0`): `roc_auc` up to 0.2. Reason: drop the leaky expenditure column"
    ) in head
    assert (
        "⚠️ Acknowledged single-feature leaks (params.yaml `gate.acknowledged_leaks`): `share` "
        "(near-leak, balanced accuracy 0.9720)."
    ) in head


def test_a_project_template_adds_to_the_report_and_the_marker_stays_first(reports, params):
    Path("templates/report.md.j2").write_text(
        '{% extends "actions_mlops/report.md.j2" %}\n'
        "{% block more %}\n### Team notes\n\nReviewed by {{ model }}'s owners.\n{% endblock %}\n",
        encoding="utf-8",
    )
    text = report.build_report()
    model = params.registry.model
    assert text.startswith(report.marker(model) + "\n## Model report: ")
    assert f"### Team notes\n\nReviewed by {model}'s owners." in text
    assert text.index("### Team notes") < text.index("Compared: this branch")
    assert "\n\n\n" not in text


def test_the_model_card_states_the_project_s_intended_use(reports, params):
    from actions_mlops.release import modelcard

    Path("models").mkdir(exist_ok=True)
    Path("models/model.skops").write_bytes(b"only hashed by the card")
    card = modelcard.render(params, modelcard.load_contract())
    own = Path("templates/model-card.md.j2").read_text(encoding="utf-8")
    assert '{% extends "actions_mlops/model-card.md.j2" %}' in own
    assert card.startswith(f"# Model card: {params.registry.model} ")
    intended = card.split("## Intended use\n\n", 1)[1].split("\n## ", 1)[0]
    assert "(Replace with this model's users" in intended
    for heading in ("Training data", "Metrics", "Slices", "Gate", "Limitations", "Reproduce"):
        assert f"\n## {heading}\n" in card
