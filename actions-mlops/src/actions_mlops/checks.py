"""`make check-config`: every settings file checked before the pipeline touches anything.

The field types (config.py, contract.py) catch misspelt keys, wrong types and out-of-range
numbers; this module adds what needs more than one field or file: the estimator can be imported
and takes its params, metrics exist and gate bounds lie within each metric's range, the primary
metric and the gate's metrics are computed by evaluate, slices name contract columns, the raw
data exists when no stage writes it; bentofile.yaml builds a bento that serves (bentofile.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from actions_mlops.core.config import (
    BENTOFILE,
    CONTRACT_FILE,
    PARAMS_FILE,
    DataParams,
    EvaluateParams,
    GateParams,
    Params,
    RegistryParams,
    SweepParams,
)
from actions_mlops.core.typed import (
    ConfigError,
    Problem,
    build,
    locate,
    read_yaml,
    show,
)
from actions_mlops.data.contract import (
    Contract,
    load_contract,
)
from actions_mlops.data.features import load_features
from actions_mlops.release.bentofile import bentofile_problems
from actions_mlops.training.estimator import make_estimator
from actions_mlops.training.metrics import (
    METRICS,
    RANGES,
)

FILE = str(PARAMS_FILE)


def evaluate_problems(evaluate: EvaluateParams, contract: Contract | None) -> list[Problem]:
    """Metrics that exist, a primary metric among them, slices that are contract columns."""
    if not evaluate.metrics:  # one line: the primary metric and the gate's follow from it
        allowed = f"at least one metric, e.g. [{evaluate.primary}] (known: {', '.join(METRICS)})"
        return [Problem(FILE, "evaluate.metrics", "[]", allowed)]
    problems = []
    for i, name in enumerate(evaluate.metrics):
        if name not in METRICS:
            allowed = f"one of {', '.join(METRICS)}"
            problems.append(Problem(FILE, f"evaluate.metrics[{i}]", name, allowed))
    if evaluate.primary not in evaluate.metrics:
        allowed = f"one of evaluate.metrics ({', '.join(evaluate.metrics)})"
        problems.append(Problem(FILE, "evaluate.primary", evaluate.primary, allowed))
    columns = contract.columns if contract else {}
    for i, column in enumerate(evaluate.slices if contract else []):
        if column not in columns:
            allowed = f"a column of {CONTRACT_FILE} ({', '.join(columns)})"
            problems.append(Problem(FILE, f"evaluate.slices[{i}]", column, allowed))
    return problems


def gate_problems(gate: GateParams, evaluate: EvaluateParams | None) -> list[Problem]:
    """Gate metrics that evaluate computes, bounds within each metric's range, floor <= ceiling."""
    problems = []
    bounds = {f"gate.metrics.{n}": (n, r.floor, r.ceiling) for n, r in gate.metrics.items()}
    bounds |= {f"gate.slices.floors.{n}": (n, f, None) for n, f in gate.slices.floors.items()}
    for key, (name, floor, ceiling) in bounds.items():
        if evaluate and name not in evaluate.metrics:
            allowed = f"a metric evaluate.metrics computes ({', '.join(evaluate.metrics)})"
            problems.append(Problem(FILE, key.rpartition(".")[0], name, allowed))
            continue
        for bound, value in (("floor", floor), ("ceiling", ceiling)):
            if value is not None and name in RANGES and value not in RANGES[name]:
                where = key if key.startswith("gate.slices") else f"{key}.{bound}"
                allowed = f"{name} is {RANGES[name]}, so this {bound} always or never passes"
                problems.append(Problem(FILE, where, show(value), allowed))
        if floor is not None and ceiling is not None and floor > ceiling:
            both = f"floor {floor:g}, ceiling {ceiling:g}"
            problems.append(Problem(FILE, key, both, "floor <= ceiling"))
    return problems


def leak_and_drop_problems(gate: GateParams, contract: Contract | None) -> list[Problem]:
    """gate.acknowledged_leaks names contract columns; gate.accept_drop names metrics the gate
    compares with the champion, each with a positive accepted drop, and gives its reason."""
    problems = []
    features = contract.features if contract else []
    for i, column in enumerate(gate.acknowledged_leaks if contract else []):
        if column not in features:
            allowed = f"a feature of {CONTRACT_FILE} ({', '.join(features)})"
            problems.append(Problem(FILE, f"gate.acknowledged_leaks[{i}]", column, allowed))
    accepted = gate.accept_drop
    if accepted is None:
        return problems
    for key in ("reason", "champion"):
        if not getattr(accepted, key).strip():
            allowed = (
                "why the drop is accepted, for the reviewers"
                if key == "reason"
                else "the champion's version (e.g. v1.2.0) or commit the drop is accepted against"
            )
            value = repr(getattr(accepted, key))  # blank: quoted, to be seen
            problems.append(Problem(FILE, f"gate.accept_drop.{key}", value, allowed))
    compared = [name for name, rule in gate.metrics.items() if rule.compare]
    if not accepted.metrics:
        allowed = f"metric: largest accepted drop, for metrics of {', '.join(compared) or 'none'}"
        problems.append(Problem(FILE, "gate.accept_drop.metrics", "{}", allowed))
    for name, drop in accepted.metrics.items():
        key = f"gate.accept_drop.metrics.{name}"
        if name not in compared:
            allowed = f"a metric gate.metrics compares with the champion ({', '.join(compared)})"
            problems.append(Problem(FILE, key, show(drop), allowed))
        elif drop <= 0:
            allowed = f"the largest accepted drop of {name}: a number > 0"
            problems.append(Problem(FILE, key, show(drop), allowed))
    return problems


def sweep_problems(sweep: SweepParams, raw: dict[str, Any]) -> list[Problem]:
    """Grid keys that are params.yaml paths in an existing section."""
    problems = []
    for path, values in sweep.grid.items():
        if not isinstance(_lookup(raw, path.rpartition(".")[0]), dict):
            allowed = "a params.yaml key path (section.key) whose section exists"
            problems.append(Problem(FILE, f"sweep.grid.{path}", show(values), allowed))
    return problems


def _lookup(raw: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        raw = raw.get(part) if isinstance(raw, dict) else None
    return raw


def params_problems(raw: Any, contract: Contract | None) -> list[Problem]:
    """Every problem in params.yaml's mapping: the field types of each section, then the checks
    above on every section that is itself valid (so one bad section hides nothing else)."""
    problems = build(Params, raw, FILE)[1]
    if not isinstance(raw, dict):
        return problems
    sections = {
        name: build(info.annotation, raw[name], FILE, name)[0]
        for name, info in Params.model_fields.items()
        if isinstance(info.annotation, type)
        and issubclass(info.annotation, BaseModel)
        and isinstance(raw.get(name), dict)
    }
    task = raw.get("task") if raw.get("task") in ("classification", "regression") else None
    evaluate = sections.get("evaluate")
    if sections.get("model"):
        problems += make_estimator(sections["model"], task)[1]
        try:
            load_features(sections["model"].features)
        except ConfigError as error:
            problems += error.problems
    if evaluate:
        problems += evaluate_problems(evaluate, contract)
    if sections.get("gate"):
        # No metrics at all is one problem (evaluate_problems), not one per gate metric.
        computed = evaluate if evaluate and evaluate.metrics else None
        problems += gate_problems(sections["gate"], computed)
        problems += leak_and_drop_problems(sections["gate"], contract)
    if sections.get("sweep"):
        problems += sweep_problems(sections["sweep"], raw)
    return problems


def raw_table_problems(raw: Any) -> list[Problem]:
    """The raw table, when no stage writes it (no data.source), must be there: else the first
    stage fails on a missing dependency instead of saying what to do."""
    section = raw.get("data") if isinstance(raw, dict) else None
    data = build(DataParams, section, FILE, "data")[0] if isinstance(section, dict) else None
    if data is None or data.source is not None or data.raw.is_file():
        return []
    allowed = (
        "an existing table: no stage writes it (data.source is not set); put yours there "
        "(`make adopt DATA=...`), or `make pull` when DVC tracks it"
    )
    return [Problem(FILE, "data.raw", f"{data.raw}: no such file", allowed)]


RELEASE_WORKFLOW = Path(".github/workflows/release.yml")


def release_branch_problems(raw: Any) -> list[Problem]:
    """registry.branch is a branch release.yml runs on (`on: push: branches`), which a workflow
    cannot read from params.yaml: change one without the other and nothing is ever released."""
    section = raw.get("registry") if isinstance(raw, dict) else None
    registry = build(RegistryParams, section, FILE, "registry")[0] if section else None
    if registry is None or not RELEASE_WORKFLOW.is_file():
        return []
    trigger = read_yaml(RELEASE_WORKFLOW) or {}
    on = trigger.get("on") if isinstance(trigger, dict) else None
    push = on.get("push") if isinstance(on, dict) else None
    branches = push.get("branches") if isinstance(push, dict) else None
    listed = [str(b) for b in branches] if isinstance(branches, list) else []
    if registry.branch in listed:
        return []
    allowed = (
        f"a branch {RELEASE_WORKFLOW}'s `on: push: branches` lists ({', '.join(listed) or 'none'})"
        ": change both together, or nothing is released"
    )
    return [Problem(FILE, "registry.branch", registry.branch, allowed)]


def check_all() -> list[Problem]:
    """Every problem in params.yaml, contract.yaml and bentofile.yaml (empty: all valid)."""
    problems: list[Problem] = []
    contract = None
    try:
        contract = load_contract()
    except ConfigError as error:
        problems += error.problems
    try:
        raw = read_yaml(PARAMS_FILE)
        found = params_problems(raw, contract) + raw_table_problems(raw)
        found += release_branch_problems(raw)
        problems[:0] = locate(found, PARAMS_FILE)
    except ConfigError as error:
        problems[:0] = error.problems
    try:
        problems += bentofile_problems(read_yaml(BENTOFILE), str(BENTOFILE))
    except ConfigError as error:
        problems += error.problems
    return problems


def main() -> int:
    """CLI entry: raise ConfigError listing every problem, or say the files are valid."""
    problems = check_all()
    if problems:
        raise ConfigError(problems)
    files = ", ".join(map(str, (PARAMS_FILE, CONTRACT_FILE, BENTOFILE)))
    print(f"check: {files} are valid")
    return 0
