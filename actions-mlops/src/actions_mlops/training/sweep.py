"""Sweep: hyperparameter search as DVC experiments, ranked by the primary metric.

Each point of `params.yaml` `sweep` is one `dvc exp run --temp` (the workspace is untouched,
results are git experiment refs that `dvc exp push` shares); the ranking reads them back with
`dvc.api.exp_show`. In GitHub Actions, sweep.yml runs one point per matrix job.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

from actions_mlops.core.config import (
    REPORTS,
    SWEEP_FILE,
    SWEEP_MARKDOWN,
    load_params,
)
from actions_mlops.training.metrics import direction

# GitHub runs at most 256 jobs from one matrix (sweep.yml runs a job per point).
MATRIX_LIMIT = 256
PREFIX = "sweep"


@dataclass(frozen=True)
class Result:
    """One finished experiment."""

    name: str
    params: dict[str, Any]
    value: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m actions_mlops sweep`."""
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="print the points as a JSON matrix")
    action.add_argument("--point", type=int, help="run only point N (0-based), as a matrix job")
    action.add_argument("--rank", action="store_true", help="only rank finished experiments")


def points(grid: dict[str, list[Any]], samples: int, seed: int) -> list[dict[str, Any]]:
    """Every combination of the grid, or `samples` of them drawn without replacement."""
    keys = sorted(grid)
    combos = [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(grid[k] for k in keys))
    ]
    if 0 < samples < len(combos):
        combos = random.Random(seed).sample(combos, samples)
    return combos


class SweepError(ValueError):
    """A sweep that cannot run, said in one line."""


def read_grid(configured: Any) -> dict[str, list[Any]]:
    """The search space: SWEEP_GRID (JSON, e.g. sweep.yml's input) for one run, else params.yaml
    `sweep.grid`; each key a params path, each value a non-empty list."""
    source, grid = "params.yaml sweep.grid", configured
    if os.environ.get("SWEEP_GRID"):
        source = "SWEEP_GRID"
        try:
            grid = json.loads(os.environ["SWEEP_GRID"])
        except json.JSONDecodeError as error:
            raise SweepError(f"{source}: not JSON ({error})") from None
    if not isinstance(grid, dict) or not grid:
        example = '{"model.params.C": [0.1, 10.0]}'
        raise SweepError(f"{source}: {grid!r} is not a mapping of params to lists, e.g. {example}")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"{source}: {key}: {values!r} is not a non-empty list of values")
    return grid


def plan(grid: dict[str, list[Any]], samples: int, seed: int) -> list[dict[str, Any]]:
    """The points to run, within GitHub's matrix limit."""
    todo = points(grid, samples, seed)
    if len(todo) > MATRIX_LIMIT:
        raise SweepError(
            f"params.yaml sweep: {len(todo)} points exceed GitHub's limit of {MATRIX_LIMIT} "
            f"matrix jobs per run: set sweep.samples to at most {MATRIX_LIMIT} (a seeded draw)"
        )
    return todo


def run_point(index: int, point: dict[str, Any]) -> bool:
    """Run one point as a DVC experiment in a temporary copy of the repository."""
    # "++key=value" sets a param whether or not params.yaml already has it
    overrides = [
        arg for key, value in point.items() for arg in ("-S", f"++{key}={json.dumps(value)}")
    ]
    name = f"{PREFIX}-{index}"
    command = ["dvc", "exp", "run", "--temp", "--force", "-n", name, *overrides]
    print("sweep: " + " ".join(command), flush=True)
    if subprocess.run(command, check=False).returncode != 0:
        print(f"sweep: experiment {name} failed (see DVC's message above)", file=sys.stderr)
        return False
    return True


def rank(keys: list[str], metric: str) -> list[Result]:
    """Finished sweep experiments, best first by `metric`."""
    import dvc.api

    results = []
    for row in dvc.api.exp_show():
        name = row.get("Experiment") or ""
        value = row.get(f"metrics.{metric}.value")
        if name.startswith(f"{PREFIX}-") and isinstance(value, (int, float)):
            results.append(Result(name, {k: row.get(k) for k in keys}, float(value)))
    return sorted(results, key=lambda r: r.value, reverse=direction(metric) == "higher")


def _cell(value: Any) -> str:
    """DVC reports numbers as floats: show 200.0 as 200."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def table(results: list[Result], keys: list[str], metric: str) -> str:
    """Markdown table of the ranking."""
    lines = [f"| rank | experiment | {metric} | " + " | ".join(f"`{k}`" for k in keys) + " |"]
    lines.append("|---|---|---|" + "---|" * len(keys))
    for place, result in enumerate(results, start=1):
        cells = " | ".join(_cell(result.params[k]) for k in keys)
        lines.append(f"| {place} | {result.name} | {result.value:.4f} | {cells} |")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """CLI entry: list, run one point, run all points, or rank."""
    params = load_params()
    sweep = params.sweep
    try:
        grid = read_grid(sweep.grid)
        todo = plan(grid, sweep.samples, sweep.seed)
    except SweepError as error:
        print(f"sweep: {error}", file=sys.stderr)
        return 2
    if args.list:
        print(json.dumps({"point": list(range(len(todo)))}))
        return 0
    if args.point is not None:
        if not 0 <= args.point < len(todo):
            last = len(todo) - 1
            print(f"sweep: --point {args.point}: the sweep has points 0..{last}", file=sys.stderr)
            return 2
        return 0 if run_point(args.point, todo[args.point]) else 1
    failed = 0
    if not args.rank:
        failed = sum(not run_point(index, point) for index, point in enumerate(todo))
    metric, keys = params.evaluate.primary, sorted(grid)
    results = rank(keys, metric)
    REPORTS.mkdir(parents=True, exist_ok=True)
    SWEEP_FILE.write_text(
        json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8"
    )
    ranking = table(results, keys, metric)
    SWEEP_MARKDOWN.write_text(f"## Sweep ranked by {metric}\n\n{ranking}\n", encoding="utf-8")
    print(ranking)
    return 1 if failed else 0
