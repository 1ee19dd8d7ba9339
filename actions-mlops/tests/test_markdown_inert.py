"""Text a client or a data file wrote shows inert in the markdown a person reads (issue 31, item
2): a category value, a slice value, a class label, a check's reason carrying links, images,
HTML, @-mentions, table breakers and newlines renders as its text, in the monitor report (the
drift issue's body), the PR report and the model card."""

import json

import pytest
from markdown_it import MarkdownIt

from actions_mlops.core.config import PLOTS_DIR, REPORTS, SLICES_FILE
from actions_mlops.core.markdown import inert, plain
from actions_mlops.monitoring.monitor import assess, markdown
from actions_mlops.monitoring.reference import build_profile
from actions_mlops.release import modelcard, report

HOSTILE = (
    "[click](https://evil.example/a) ![pixel](https://evil.example/p.png) "
    "<img src=x onerror=alert(1)> <b>bold</b> <!-- hidden --> @octocat www.evil.example "
    "https://evil.example/b **strong** a | b | c\n## injected heading\n| x | y |\r`tick` ``` end"
)


def assert_inert(text: str) -> None:
    """No link, image, HTML, heading from HOSTILE; every table row keeps its header's cells;
    no @-mention or bare link left in text (GitHub would link them)."""
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(text)
    flat = [child for t in tokens for child in (t.children or [])] + tokens
    bad = [t for t in flat if t.type in ("link_open", "image", "html_inline", "html_block")]
    assert not bad, (bad, text)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert not any("injected" in h for h in headings), headings
    cells, header = 0, None
    for t in tokens:
        if t.type == "tr_open":
            cells = 0
        elif t.type in ("th_open", "td_open"):
            cells += 1
        elif t.type == "tr_close":
            header = cells if header is None else header
            assert cells == header, text
        elif t.type == "table_close":
            header = None
    for t in flat:
        if t.type == "text":
            assert "@octocat" not in t.content and "www.evil" not in t.content, t.content
            assert "https://evil" not in t.content, t.content
        if t.type in ("text", "code_inline"):
            assert "@octocat" not in t.content, t.content


@pytest.mark.parametrize("value", [HOSTILE, "", "`", "plain", "a\x1b[31mred"])
def test_inert_and_plain_hold_any_text(value):
    assert_inert(f"| a |\n|---|\n| {inert(value)} |\n\n{inert(value, table=False)}\n")
    assert_inert(f"| a |\n|---|\n| {plain(value)} |\n\n{plain(value)}\n")


def test_a_drifted_category_value_shows_inert_in_the_monitor_report(params, messy):
    frame, contract = messy(params.task, rows=2000, seed=1)
    importance = [{"feature": f, "importance": 1.0} for f in contract.features]
    profile = build_profile(frame, contract, importance)
    colour = contract.columns["colour"].model_copy(
        update=dict(allowed_values=("red", "green", "blue"))
    )
    contract = contract.model_copy(update=dict(columns=contract.columns | {"colour": colour}))
    batch = frame.sample(500, random_state=3).copy()
    batch["colour"] = HOSTILE
    found = assess(batch, profile, params, contract)
    assert [c["column"] for c in found["drift"]["columns"] if c["drifted"]] == ["colour"]
    text = markdown(found | {"batch": f"logs/{HOSTILE}", "reference": "r"})
    assert "Values outside the contract" in text
    assert_inert(text)


def test_slice_values_class_labels_and_reasons_show_inert_in_the_report(workdir, params):
    metrics = {
        name: {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6} for name in params.evaluate.metrics
    }
    for path, payload in {
        REPORTS / "metrics.json": {
            "primary": params.evaluate.primary,
            "test_rows": 100,
            "metrics": metrics,
        },
        SLICES_FILE: {
            HOSTILE: [
                {"value": HOSTILE, "rows": 50} | {m: 0.5 for m in params.evaluate.metrics},
                {"value": HOSTILE + "2", "rows": 1} | {m: 0.5 for m in params.evaluate.metrics},
            ]
        },
        REPORTS / "gate.json": {
            "verdict": "NOT_BLESSED",
            "blessed": False,
            "champion": None,
            "notes": [],
            "checks": [
                {"name": f"slice {HOSTILE}", "metric": "x", "passed": False, "reason": HOSTILE}
            ],
        },
    }.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload))
    PLOTS_DIR.mkdir(parents=True, exist_ok=True)
    (PLOTS_DIR / "confusion.csv").write_text(
        "actual,predicted\n" + f'"{HOSTILE.replace(chr(34), "")}",b\nb,b\n'
    )
    text = report.build_report()
    marker = report.marker(params.registry.model) + "\n"
    assert text.startswith(marker)  # the report's own HTML comment, the one HTML allowed
    text = text.removeprefix(marker)
    assert "Slices" in text
    assert ("Confusion matrix" in text) == (params.task == "classification")  # labels: classes
    assert_inert(text)
    card = "\n".join(
        modelcard.slices_section(json.loads(SLICES_FILE.read_text()))
        + modelcard.gate_section(json.loads((REPORTS / "gate.json").read_text()))
    )
    assert_inert(card)
