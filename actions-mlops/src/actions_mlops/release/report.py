"""Report: one markdown document for the pull-request comment and the job summary.

It starts with a hidden marker so the comment workflow updates one comment instead of adding
one per push, and reads only files under reports/ plus the base branch's committed files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from actions_mlops.core import git
from actions_mlops.core.config import (
    GATE_FILE,
    METRICS_FILE,
    PARAMS_FILE,
    PLOTS_DIR,
    REPORT_FILE,
    REPORTS,
    SLICES_FILE,
    load_params,
)
from actions_mlops.core.markdown import inert, plain
from actions_mlops.core.outputs import job_summary
from actions_mlops.core.pages import pages_url, version_page
from actions_mlops.core.typed import parse_yaml, read_yaml
from actions_mlops.data.contract import load_contract
from actions_mlops.release import templates
from actions_mlops.release.changes import changes_section
from actions_mlops.release.gate import NOT_GATED
from actions_mlops.release.registry import next_version
from actions_mlops.training.metrics import direction


def marker(model: str) -> str:
    """The hidden first line that finds the report's one comment again (pr-comment.yml)."""
    return f"<!-- {model}-model-report -->"


GITHUB_LIMIT = 65_536  # characters in one comment
MAX_ROWS = 20
LABEL_WIDTH = 24  # characters of a chart label; longer names end in "…", in full in a footnote
# Line colours of a chart, in the order of its lines, and the legend square of each (mermaid's
# xychart has no legend: the report writes one under the chart).
PALETTE = [
    ("#1f77b4", "🟦"),
    ("#ff7f0e", "🟧"),
    ("#2ca02c", "🟩"),
    ("#d62728", "🟥"),
    ("#9467bd", "🟪"),
    ("#8c564b", "🟫"),
    ("#e6b800", "🟨"),
    ("#000000", "⬛"),
]
# Paths the pipeline writes: changed in the tree, they do not change what `make repro` makes.
OUTPUTS = ("dvc.lock", "reports/")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m actions_mlops report`."""
    parser.add_argument(
        "--base",
        help="git revision to compare with (default: origin/$GITHUB_BASE_REF in a pull request, "
        "else origin/<registry.branch>)",
    )
    parser.add_argument(
        "--comparison",
        action="store_true",
        help="only print how the gate compared with the champion (CI: also to the job summary, "
        "and a warning when it was not paired)",
    )


def read_json(path: Path) -> Any:
    """A reports/ file, or None when it was not produced."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """params.yaml as dotted keys, so a change shows as one row."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return flat


def fmt(value: float | None, digits: int = 4) -> str:
    """A number for a table cell; an em dash when there is none."""
    return "—" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def delta_cell(metric: str, delta: float, noise: bool, interval: list | None = None) -> str:
    """Signed difference with a mark saying whether it is better, worse or within noise."""
    better = delta > 0 if direction(metric) == "higher" else delta < 0
    mark = "≈ within noise" if noise else ("▲ better" if better else "▼ worse")
    span = f" [{interval[0]:+.4f}, {interval[1]:+.4f}]" if interval else ""
    return f"{delta:+.4f}{span} {mark}"


def metrics_table(current: dict, base: dict | None, gate: dict | None, base_name: str) -> list[str]:
    """This branch vs the base branch vs the champion, with differences and intervals."""
    champion = (gate or {}).get("champion") or {}
    paired = {
        check["metric"]: check
        for check in (gate or {}).get("checks", [])
        if check["name"].endswith("vs champion")
    }
    recorded = (champion.get("metrics") or {}).get("metrics", {})
    tag = champion.get("tag")
    lines = [
        f"| metric | this branch [CI] | base `{base_name}` | Δ vs base "
        f"| champion {f'`{tag}`' if tag else '(none yet)'} | Δ vs champion [paired CI] |",
        "|---|---|---|---|---|---|",
    ]
    base_metrics = (base or {}).get("metrics", {})
    for metric, entry in current["metrics"].items():
        value, low, high = entry["value"], entry["ci_low"], entry["ci_high"]
        cells = [f"`{metric}` {'↑' if direction(metric) == 'higher' else '↓'}"]
        cells.append(f"**{value:.4f}** [{low:.4f}, {high:.4f}]")
        base_value = base_metrics.get(metric, {}).get("value")
        cells.append(fmt(base_value))
        if base_value is None:
            cells.append("—")
        else:
            cells.append(delta_cell(metric, value - base_value, low <= base_value <= high))
        champion_value = recorded.get(metric, {}).get("value")
        check = paired.get(metric)
        if check and check.get("champion_value") is not None:
            champion_value = check["champion_value"]
        cells.append(fmt(champion_value))
        if check and check.get("difference_interval"):
            low_d, high_d = check["difference_interval"]
            raw = value - champion_value
            cells.append(
                delta_cell(
                    metric,
                    raw,
                    low_d <= 0 <= high_d,
                    sorted([low_d, high_d] if direction(metric) == "higher" else [-high_d, -low_d]),
                )
            )
        elif champion_value is not None:
            # No paired interval (the gate does not compare this metric): the same rule as for
            # the base, the champion's value inside this branch's interval is noise.
            noise = low <= champion_value <= high
            cells.append(delta_cell(metric, value - champion_value, noise) + " (unpaired)")
        else:
            cells.append("—")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def params_section(base_rev: str | None) -> list[str]:
    """Only the params that differ from the base branch."""
    if base_rev is None:
        return []
    base_text = git.show_file(base_rev, PARAMS_FILE)
    if base_text is None:
        return ["", "### Params", "", f"No `params.yaml` on `{base_rev}` to compare with."]
    before = flatten(parse_yaml(base_text, f"{base_rev}:{PARAMS_FILE}"))
    after = flatten(read_yaml(PARAMS_FILE))
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if not changed:
        return ["", "### Params", "", f"No params changed since `{base_rev}`."]
    lines = [
        "",
        "### Params changed",
        "",
        f"| param | `{base_rev}` | this branch |",
        "|---|---|---|",
    ]
    lines += [
        f"| {inert(k)} | {inert(before.get(k, '—'))} | {inert(after.get(k, '—'))} |"
        for k in changed[:MAX_ROWS]
    ]
    if len(changed) > MAX_ROWS:
        lines.append(f"\n_{len(changed) - MAX_ROWS} more changed params not shown._")
    return lines


def data_section(current: dict) -> list[str]:
    """Test rows, then the validation and drift reports (each says its own verdict)."""
    lines = ["", "### Data", "", f"- test rows: {current.get('test_rows', '—')}"]
    if not (REPORTS / "validation.md").exists():
        lines.append("- validation against `contract.yaml`: not run (`make validate`)")
    for name in ("validation.md", "drift.md"):
        path = REPORTS / name
        if path.exists():
            lines += ["", path.read_text(encoding="utf-8").strip()]
    return lines


def gate_section(gate: dict | None) -> list[str]:
    """Every check with its outcome and reason."""
    if gate is None:
        return ["", "### Gate", "", "The gate has not run (`make gate`)."]
    lines = ["", "### Gate checks", "", "| | check | reason |", "|---|---|---|"]
    small = [c for c in gate["checks"] if c["passed"] and c["reason"].startswith(NOT_GATED)]
    judged = [c for c in gate["checks"] if c not in small]
    checks = sorted(judged, key=lambda c: c["passed"])  # failures first
    for check in checks[:MAX_ROWS]:
        lines.append(
            f"| {'✅' if check['passed'] else '❌'} | {plain(check['name'])} "
            f"| {plain(check['reason'])} |"
        )
    if small:
        lines.append(
            f"| ⚪ | {len(small)} slice checks | {NOT_GATED}: each slice has fewer test rows "
            "than gate.slices.min_rows |"
        )
    if len(checks) > MAX_ROWS:
        lines.append(f"\n_{len(checks) - MAX_ROWS} more checks not shown (all in gate.json)._")
    lines += [f"\n> {note}" for note in gate.get("notes", [])]
    return lines


def shorten(name: str, width: int = LABEL_WIDTH) -> str:
    """`name` cut to `width` characters, ending in "…" when it was longer."""
    return name if len(name) <= width else name[: width - 1] + "…"


def full_names(names: list[str], width: int = LABEL_WIDTH) -> list[str]:
    """A footnote naming in full every name `shorten` cut (nothing when none was)."""
    cut = [name for name in dict.fromkeys(names) if len(name) > width]
    if not cut:
        return []
    return ["", "Full names: " + "; ".join(f"{inert(shorten(n, width))} = {inert(n)}" for n in cut)]


def slices_section(slices: dict | None, metrics: list[str], min_rows: int) -> list[str]:
    """Per-slice metrics, one table per slice column; the values with fewer than `min_rows`
    test rows (too few to judge: the gate does not check them) are counted in one line."""
    if not slices:
        return []
    lines = ["", "### Slices"]
    for column, groups in slices.items():
        big = [g for g in groups if g["rows"] >= min_rows]
        small = [g for g in groups if g["rows"] < min_rows]
        lines += ["", inert(column, table=False), ""]
        if big:
            lines.append("| value | rows | " + " | ".join(metrics) + " |")
            lines.append("|---|---|" + "---|" * len(metrics))
        for group in big[:MAX_ROWS]:
            values = " | ".join(fmt(group.get(m)) for m in metrics)
            lines.append(f"| {inert(shorten(str(group['value'])))} | {group['rows']} | {values} |")
        if len(big) > MAX_ROWS:
            lines.append(f"\n_{len(big) - MAX_ROWS} more values not shown ({SLICES_FILE})._")
        if small:
            examples = ", ".join(inert(shorten(str(g["value"])), table=False) for g in small[:5])
            lines.append(
                ("\n" if big else "")
                + f"_{len(small)} values with fewer than {min_rows} test rows each "
                f"({sum(g['rows'] for g in small)} rows in all; not gated): {examples}"
                + (", …" if len(small) > 5 else "")
                + "._"
            )
        lines += full_names([str(g["value"]) for g in big[:MAX_ROWS]])
    return lines


def mermaid_bar(title: str, labels: list[str], values: list[float], axis: str) -> list[str]:
    """A mermaid bar chart (GitHub renders mermaid in comments: no image host needed); long
    labels are shortened, with their full names in a footnote."""
    names = ", ".join(json.dumps(shorten(label.replace('"', "'"))) for label in labels)
    numbers = ", ".join(f"{v:.4f}" for v in values)
    return [
        "```mermaid",
        "xychart-beta",
        f"  title {json.dumps(title)}",
        f"  x-axis [{names}]",
        f"  y-axis {json.dumps(axis)}",
        f"  bar [{numbers}]",
        "```",
        *full_names(labels),
    ]


def palette_line(count: int) -> str:
    """Mermaid's directive that colours a chart's first `count` lines as PALETTE does."""
    colours = ", ".join(colour for colour, _ in PALETTE[:count])
    return '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + colours + '"}}}}%%'


def legend(names: list[str]) -> str:
    """The legend under a chart: each line's colour square and name, in the lines' order."""
    pairs = zip(PALETTE, names, strict=False)  # names beyond the palette are not drawn
    return "Lines: " + " · ".join(f"{square} {name}" for (_, square), name in pairs)


def mermaid_lines(
    title: str, x_axis: str, y_axis: str, series: dict[str, list[float]]
) -> list[str]:
    """A mermaid line chart over an evenly spaced x axis from 0 to 1, one coloured line per
    named series (at most len(PALETTE)), with its legend."""
    lines = ["```mermaid", palette_line(len(series)), "xychart-beta"]
    lines.append(f"  title {json.dumps(title)}")
    lines += [f"  x-axis {json.dumps(x_axis)} 0 --> 1", f"  y-axis {json.dumps(y_axis)} 0 --> 1"]
    lines += [
        "  line [" + ", ".join(f"{v:.3f}" for v in values) + "]" for values in series.values()
    ]
    return [*lines, "```", "", legend(list(series))]


def roc_section(roc: pd.DataFrame) -> list[str]:
    """ROC curves, one line per class (binary: the positive class), labelled with the class
    and its AUC; beyond len(PALETTE) classes, the ones with the lowest AUC (the weak ones)."""
    grid, curves = np.linspace(0, 1, 21), {}
    for label, group in roc.groupby("class", sort=False):
        auc = float(np.trapezoid(group["tpr"], group["fpr"]))
        name = f"{inert(shorten(str(label)), table=False)} (AUC {auc:.3f})"
        curves[name] = (auc, np.interp(grid, group["fpr"], group["tpr"]).tolist())
    shown = sorted(curves, key=lambda n: curves[n][0])[: len(PALETTE)]
    shown = [name for name in curves if name in shown]  # in the file's order
    classes = roc["class"].astype(str).unique().tolist()
    heading = (
        f"### ROC curve (class {inert(classes[0], table=False)})"
        if len(classes) == 1
        else "### ROC curves"
    )
    lines = ["", heading, ""]
    lines += mermaid_lines(
        "ROC", "false positive rate", "true positive rate", {n: curves[n][1] for n in shown}
    )
    if len(curves) > len(shown):
        lines.append(
            f"\n_{len(curves) - len(shown)} more classes, with higher AUC, in "
            f"`{PLOTS_DIR / 'roc.csv'}`._"
        )
    return [*lines, *full_names(classes)]


def charts_section(task: str, primary: str, test_rows: int | None = None) -> list[str]:
    """Feature importance, curves and the confusion matrix, drawn in markdown."""
    lines = []
    importance = read_json(REPORTS / "importance.json")
    if importance:
        top = importance[:10]
        lines += ["", "### Feature importance", ""]
        lines += mermaid_bar(
            f"Permutation importance (drop in {primary})",
            [row["feature"] for row in top],
            [row["importance"] for row in top],
            f"drop in {primary}",
        )
    if task == "classification" and (PLOTS_DIR / "roc.csv").exists():
        lines += roc_section(pd.read_csv(PLOTS_DIR / "roc.csv", dtype={"class": str}))
    if task == "classification" and (PLOTS_DIR / "confusion.csv").exists():
        confusion = pd.read_csv(PLOTS_DIR / "confusion.csv", dtype=str)
        lines += confusion_section(confusion, test_rows)
    if task == "regression" and (PLOTS_DIR / "predictions.csv").exists():
        frame = pd.read_csv(PLOTS_DIR / "predictions.csv").sort_values("predicted")
        # At most one bin per row: a tiny test split gives no empty bin.
        positions = np.array_split(np.arange(len(frame)), min(10, len(frame))) if len(frame) else []
        bins = [frame.iloc[p] for p in positions]
    else:
        bins = []
    if bins:
        predicted = [b["predicted"].mean() for b in bins]
        actual = [b["actual"].mean() for b in bins]
        lines += ["", "### Calibration: mean predicted and actual per decile of prediction", ""]
        low, high = min(predicted + actual), max(predicted + actual)
        lines += [
            "```mermaid",
            palette_line(2),
            "xychart-beta",
            '  title "Predicted vs actual by decile"',
            "  x-axis [" + ", ".join(f'"d{i + 1}"' for i in range(len(bins))) + "]",
            f'  y-axis "target" {low:.4g} --> {high:.4g}',
            "  line [" + ", ".join(f"{v:.4g}" for v in predicted) + "]",
            "  line [" + ", ".join(f"{v:.4g}" for v in actual) + "]",
            "```",
            "",
            legend(["mean predicted", "mean actual"]),
        ]
    return lines


def confusion_section(confusion: pd.DataFrame, test_rows: int | None) -> list[str]:
    """The confusion matrix, square: every class as a row and a column, also a class the model
    never predicted (its column of zeros is the finding). Above evaluate.plot_rows test rows the
    file holds each cell's share of them, which the heading says."""
    classes = sorted(set(confusion["actual"]) | set(confusion["predicted"]))
    table = pd.crosstab(confusion["actual"], confusion["predicted"])
    table = table.reindex(index=classes, columns=classes, fill_value=0)
    shown = classes[:MAX_ROWS]
    lines = ["", "### Confusion matrix (rows: actual, columns: predicted)", ""]
    if test_rows and test_rows > len(confusion):
        scaled = f"scaled to {len(confusion)}"
        lines += [f"_Each cell's share of the {test_rows} test rows, {scaled}._", ""]
    lines.append("| | " + " | ".join(inert(shorten(c)) for c in shown) + " |")
    lines.append("|---|" + "---|" * len(shown))
    for label in shown:
        counts = table.loc[label, shown]
        lines.append(
            f"| **{inert(shorten(label))}** | " + " | ".join(str(v) for v in counts) + " |"
        )
    if len(classes) > MAX_ROWS:
        lines.append(f"\n_{len(classes) - MAX_ROWS} more classes in `{PLOTS_DIR}`._")
    return [*lines, *full_names(shown)]


def verdict_line(gate: dict | None, current: dict) -> str:
    """The one line a reviewer reads first."""
    primary = current["primary"]
    entry = current["metrics"][primary]
    summary = f"{primary} {entry['value']:.4f} [{entry['ci_low']:.4f}, {entry['ci_high']:.4f}]"
    if gate is None:
        return f"⚪ **NOT GATED** — {summary}; run `make gate`."
    if gate["blessed"]:
        return f"✅ **BLESSED** — {summary}; all {len(gate['checks'])} checks passed."
    failed = [plain(c["reason"]) for c in gate["checks"] if not c["passed"]]
    return (
        f"❌ **NOT BLESSED** — {summary}; failed: "
        + "; ".join(failed[:3])
        + (f" (+{len(failed) - 3} more)" if len(failed) > 3 else "")
    )


def comparison_line(gate: dict | None) -> str | None:
    """How the gate compared with the champion: paired, or loudly not (None before a gate)."""
    if not gate or "comparison" not in gate:
        return None
    kind, reason = gate["comparison"], gate.get("comparison_reason", "")
    if kind == "paired":
        return f"Champion comparison: **paired**: {reason}."
    if kind == "recorded":
        return f"⚠️ Champion comparison: **recorded, not paired**: {reason}."
    return f"Champion comparison: **none**: {reason}."


def exceptions_lines(gate: dict | None) -> list[str]:
    """What params told the gate to let through, for the reviewer to read before the verdict
    counts: an accepted metric drop (gate.accept_drop) and acknowledged leaks."""
    lines = []
    accepted = (gate or {}).get("accepted_drop")
    if accepted:
        drops = ", ".join(f"`{m}` up to {d:g}" for m, d in accepted["metrics"].items())
        state = "applied" if accepted.get("applied") else "**not applied** (see the gate checks)"
        lines.append(
            f"⚠️ Accepted metric drop ({state}; params.yaml `gate.accept_drop`, against champion "
            f"`{accepted['champion']}`): {drops}. Reason: {accepted['reason']}"
        )
    acknowledged = [x for x in (gate or {}).get("leaks", []) if x.get("acknowledged")]
    if acknowledged:
        listed = ", ".join(f"`{x['column']}` ({x['kind']}, {x['score']})" for x in acknowledged)
        lines.append(
            f"⚠️ Acknowledged single-feature leaks (params.yaml `gate.acknowledged_leaks`): "
            f"{listed}."
        )
    return [line for text in lines for line in (text, "")]


def announce_comparison(gate: dict | None) -> int:
    """`report --comparison`: the line on stdout; in GitHub Actions also in the job summary,
    with a warning annotation when a champion exists but the comparison was not paired."""
    line = comparison_line(gate)
    if line is None:
        print(f"report: no comparison recorded in {GATE_FILE}: run `make gate`", file=sys.stderr)
        return 1
    print(line)
    job_summary(line + "\n\n")
    if gate and gate.get("champion") and gate["comparison"] != "paired":
        print(f"::warning title=Gate not paired::{gate['comparison_reason']}")
    return 0


def resolve_base(
    requested: str | None, branch: str = "main"
) -> tuple[str, dict | None, str | None]:
    """The base revision's name, its committed metrics, and its commit (None when unknown);
    by default the pull request's base, else the release branch (`branch`)."""
    candidates = [requested] if requested else []
    if not requested and os.environ.get("GITHUB_BASE_REF"):
        candidates.append(f"origin/{os.environ['GITHUB_BASE_REF']}")
    candidates += [] if requested else [f"origin/{branch}", branch]
    for rev in candidates:
        commit = git.commit_of(rev)
        if commit:
            text = git.show_file(commit, METRICS_FILE)
            return rev, json.loads(text) if text else None, commit
    return candidates[0], None, None


def references(
    base_name: str, base_commit: str | None, champion: dict[str, Any]
) -> list[tuple[str, str]]:
    """The commits "What changed" compares with: the base branch, then the champion's (once
    when they are the same commit)."""
    found = [(base_commit, f"base `{base_name}`")] if base_commit else []
    if champion.get("commit") and champion["commit"] != base_commit:
        found.append((champion["commit"], f"champion `{champion['tag']}`"))
    return found


def uncommitted_inputs() -> list[str]:
    """Tracked files changed since HEAD that are inputs of the pipeline (its outputs, dvc.lock
    and reports/, are remade by `make repro` and do not count)."""
    status = git.git("status", "--porcelain", "--untracked-files=no").splitlines()
    paths = [line[3:].split(" -> ")[-1] for line in status if line.strip()]
    return [path for path in paths if not path.startswith(OUTPUTS)]


def reproduce_line(head: str, dirty: list[str]) -> str:
    """How to make this report's model again: check out HEAD when every input is committed;
    otherwise commit the listed changes first (HEAD alone would make the committed model)."""
    if not head:
        return "Reproduce locally: commit your changes, then `make repro gate report`."
    if not dirty:
        return f"Reproduce locally: `git checkout {head} && make repro gate report`"
    listed = ", ".join(f"`{path}`" for path in dirty[:5]) + (", …" if len(dirty) > 5 else "")
    return (
        f"Reproduce locally: this report was made with uncommitted changes to {listed} on top "
        f"of `{head}` (`git checkout {head}` would make the committed model, not this one): "
        "commit them (`git commit -am ...`), then `git checkout <that commit> && make repro "
        "gate report`."
    )


def site_lines(model: str, gate: dict | None, current: dict) -> list[str]:
    """Where the registry's site will show the version this change becomes once merged and
    released (a BLESSED model, in GitHub Actions, where the Pages address is known)."""
    url = pages_url()
    if url is None or (gate or {}).get("verdict") != "BLESSED":
        return []
    version = next_version(model, load_contract(), current)
    return [
        f"Once merged and released this model becomes `{model}@{version}` (the registry's bump "
        f"rule, as of now): [its page]({url}{version_page(version)}) on the registry's site.",
        "",
    ]


def build_report(base_rev: str | None = None) -> str:
    """The whole markdown document, kept under GitHub's comment limit."""
    params = load_params()
    current = read_json(METRICS_FILE)
    if current is None:
        raise FileNotFoundError(f"{METRICS_FILE} is missing: run `make repro` first")
    gate = read_json(GATE_FILE)
    base_name, base, base_commit = resolve_base(base_rev, params.registry.branch)
    head = (git.head() or "")[:7]
    comparison = comparison_line(gate)
    champion = (gate or {}).get("champion") or {}
    sections = {
        "verdict": [verdict_line(gate, current)],
        "comparison": [comparison] if comparison else [],
        "site": site_lines(params.registry.model, gate, current),
        "exceptions": exceptions_lines(gate),
        "metrics": [
            *metrics_table(current, base, gate, base_name),
            *([] if base else ["", f"_No metrics on `{base_name}` yet: nothing to compare with._"]),
        ],
        "params": params_section(base_name if base_commit else None),
        "changes": changes_section(references(base_name, base_commit, champion), params.data.raw),
        "data": data_section(current),
        "gate": gate_section(gate),
        "slices": slices_section(
            read_json(SLICES_FILE), params.evaluate.metrics, params.gate.slices.min_rows
        ),
        "charts": charts_section(params.task, current["primary"], current.get("test_rows")),
    }
    footer = [
        f"Compared: this branch `{head or 'uncommitted'}` · base `{base_name}`"
        + (f" (`{base_commit[:7]}`)" if base_commit else "")
        + (f" · champion `{champion['tag']}` (`{champion['commit'][:7]}`)" if champion else ""),
        "",
        reproduce_line(head, uncommitted_inputs() if head else []),
    ]
    texts, used, truncated = {}, 0, False
    for name, lines in sections.items():
        block = "\n".join(lines).strip("\n")
        truncated = truncated or used + len(block) + 1000 > GITHUB_LIMIT
        texts[name] = "" if truncated else block
        used += len(texts[name])
    body = templates.render(
        "report.md.j2",
        model=params.registry.model,
        sections=texts,
        truncated=truncated,
        footer="\n".join(footer),
    )
    # The marker finds the comment to update: first, whatever a project's template says.
    return marker(params.registry.model) + "\n" + re.sub(r"\n{3,}", "\n\n", body)


def main(args: argparse.Namespace) -> int:
    """CLI entry: write reports/report.md (or, with --comparison, only announce the gate's)."""
    if args.comparison:
        return announce_comparison(read_json(GATE_FILE))
    REPORT_FILE.parent.mkdir(parents=True, exist_ok=True)
    REPORT_FILE.write_text(build_report(args.base), encoding="utf-8")
    print(f"report: wrote {REPORT_FILE}")
    return 0
