"""Write the generated README's "Why this estimator" table from bench/results/estimators.json.

`python scripts/estimator_readme.py` replaces the block between the two markers in
{{cookiecutter.project}}/README.md with one Jinja branch per example (task, dataset): the rows
the benchmark measured on that example, the chosen default first. `--check` only compares and
exits 1 when the README is stale (tests/test_estimator_readme.py runs it), so the figures have one
definition: the committed benchmark result. Rerun after `python -m bench estimators`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[1]
RESULT = TEMPLATE / "bench" / "results" / "estimators.json"
README = TEMPLATE / "{{cookiecutter.project}}" / "README.md"
BEGIN = "{#- estimators: begin (scripts/estimator_readme.py writes this block) #}"
END = "{#- estimators: end #}"
METRIC_NAMES = {"roc_auc": "ROC AUC", "rmse": "RMSE"}


def label(result: dict[str, Any]) -> str:
    """The estimator's class, with the one argument that sets its size when it has one."""
    name = result["estimator"].rpartition(".")[2]
    trees = result["params"].get("n_estimators")
    return f"{name} ({trees} trees)" if trees else name


def number(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def row(result: dict[str, Any], chosen: bool) -> str:
    metric = result["metric"]
    interval = (
        f"{number(metric['value'])} [{number(metric['ci_low'])}, {number(metric['ci_high'])}]"
    )
    name = f"**{label(result)}** (default)" if chosen else label(result)
    cells = [
        name,
        interval,
        f"{result['train_s']:.3g}",
        f"{result['predict_1']['p50_ms']:.3g}",
        f"{result['model_bytes'] / 1024:,.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


def block(document: dict[str, Any]) -> str:
    """The README block: a Jinja branch per measured example."""
    lines = [BEGIN]
    examples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in document["results"]:
        examples.setdefault((result["task"], result["dataset"]), []).append(result)
    for number_, ((task, dataset), results) in enumerate(sorted(examples.items())):
        keyword = "if" if number_ == 0 else "elif"
        test = f'cookiecutter.task == "{task}" and cookiecutter.dataset == "{dataset}"'
        lines.append(f"{{%- {keyword} {test} %}}")
        lines.append("")  # the tag takes its line's newline: this one separates the table
        chosen = document["chosen"][task]["name"]
        metric = METRIC_NAMES.get(results[0]["primary"], results[0]["primary"])
        lines.append(
            f"| estimator | {metric} [95% interval] | train, CPU s | predict 1 record, CPU ms | "
            "model file KiB |"
        )
        lines.append("|---|---|---|---|---|")
        ordered = sorted(results, key=lambda r: r["name"] != chosen)
        lines.extend(row(r, r["name"] == chosen) for r in ordered)
    lines.append("{%- endif %}")
    lines.append("")
    lines.append(
        f"Measured {document['measured_at'][:10]} on {document['machine']['cores']} shared cores "
        "(`bench/results/estimators.json` in the template)."
    )
    lines.append(END)
    return "\n".join(lines)


def rendered(readme: str, document: dict[str, Any]) -> str:
    """`readme` with its block replaced by the one `document` gives."""
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[:start] + block(document) + readme[end:]


def main(argv: list[str]) -> int:
    document = json.loads(RESULT.read_text(encoding="utf-8"))
    current = README.read_text(encoding="utf-8")
    expected = rendered(current, document)
    if "--check" in argv:
        if expected != current:
            print(
                f"{README.relative_to(TEMPLATE)}: the estimator table is not the one in "
                f"{RESULT.relative_to(TEMPLATE)}; run python scripts/estimator_readme.py"
            )
            return 1
        return 0
    README.write_text(expected, encoding="utf-8")
    print(f"wrote the estimator table of {README.relative_to(TEMPLATE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
