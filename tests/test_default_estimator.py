"""The template's default estimator is the one bench/estimators.py chose by its rule, and every
baked project shows the measured figures of its own example: bench/results/estimators.json is
the one source of the default (params.yaml, adopt.py) and of the README's table."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys

import pytest
import yaml
from conftest import DATASETS, TEMPLATE, bake, run

sys.path.insert(0, str(TEMPLATE))  # the bench package, for its rule
from bench.estimators import RANDOM_FOREST, choose  # noqa: E402

DOCUMENT = json.loads((TEMPLATE / "bench" / "results" / "estimators.json").read_text())
EXAMPLES = sorted({(r["task"], r["dataset"]) for r in DOCUMENT["results"]})


def readme_script():
    spec = importlib.util.spec_from_file_location(
        "estimator_readme", TEMPLATE / "scripts" / "estimator_readme.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def adopt_estimators(path) -> dict:
    """adopt.py's ESTIMATORS, read without importing the project (a literal)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "ESTIMATORS":
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path}: no ESTIMATORS")


def result(task: str, dataset: str, name: str) -> dict:
    return next(
        r
        for r in DOCUMENT["results"]
        if (r["task"], r["dataset"], r["name"]) == (task, dataset, name)
    )


def test_every_example_was_measured_and_the_choice_follows_the_rule():
    assert EXAMPLES == sorted((t, d) for t, sets in DATASETS.items() for d in sets)
    assert choose(DOCUMENT["results"]) == DOCUMENT["chosen"]
    for task, dataset in EXAMPLES:  # the forest the template shipped before is still compared
        forest = RANDOM_FOREST[task]
        assert any(
            (r["task"], r["dataset"], r["estimator"], r["params"])
            == (task, dataset, forest["estimator"], forest["params"])
            for r in DOCUMENT["results"]
        )


def test_the_rule_keeps_the_fastest_of_the_candidates_as_good_as_the_best():
    def row(name, example, value, low, high, p50):
        return {
            "task": "regression",
            "example": example,
            "name": name,
            "estimator": f"x.{name}",
            "params": {},
            "direction": "lower",
            "metric": {"value": value, "ci_low": low, "ci_high": high},
            "predict_1": {"p50_ms": p50},
            "model_bytes": 1000,
        }

    rows = [
        row("best", "a", 10, 9, 11, 5.0),
        row("fast", "a", 12, 10.5, 13, 1.0),  # overlaps on a...
        row("best", "b", 10, 9, 11, 5.0),
        row("fast", "b", 14, 11.5, 16, 1.0),  # ...not on b
        row("medium", "a", 11, 9.5, 12, 2.0),
        row("medium", "b", 11, 10, 12, 3.0),
    ]
    chosen = choose(rows)["regression"]
    assert chosen["name"] == "medium" and chosen["as_good_as_best"] == ["best", "medium"]
    assert chosen["worst_predict_p50_ms"] == 3.0


def test_the_readme_template_holds_the_committed_figures():
    check = run([sys.executable, "scripts/estimator_readme.py", "--check"], TEMPLATE, check=False)
    assert check.returncode == 0, check.stdout


@pytest.mark.parametrize(("task", "dataset"), EXAMPLES, ids=[f"{t}-{d}" for t, d in EXAMPLES])
def test_a_baked_project_starts_with_the_chosen_estimator_and_shows_its_figures(
    task, dataset, tmp_path
):
    project = bake(tmp_path, task=task, dataset=dataset, init_git="no")
    chosen = DOCUMENT["chosen"][task]
    params = yaml.safe_load((project / "params.yaml").read_text())
    model = {key: params["model"][key] for key in ("estimator", "params")}  # and its one_hot caps
    assert model == {"estimator": chosen["estimator"], "params": chosen["params"]}
    # `make adopt` switching to this task writes the same model, with the baked sweep grid.
    adopt = TEMPLATE / "actions-mlops" / "src" / "actions_mlops" / "adopt.py"
    assert adopt_estimators(adopt)[task] == {**model, "grid": params["sweep"]["grid"]}

    readme = (project / "README.md").read_text()
    script = readme_script()
    rows = [r for r in DOCUMENT["results"] if (r["task"], r["dataset"]) == (task, dataset)]
    assert script.row(result(task, dataset, chosen["name"]), True) in readme
    for other in (r for r in rows if r["name"] != chosen["name"]):
        assert script.row(other, False) in readme
    assert readme.count("(default) |") == 1 and "{%" not in readme and "{#" not in readme
