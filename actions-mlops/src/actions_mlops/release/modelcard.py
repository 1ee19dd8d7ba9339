"""Model card: one markdown page per version, from the files the pipeline and the gate wrote.

Intended use, training data summary and fingerprint, metrics with intervals, slices, the gate
verdict, limitations and how to reproduce: templates/model-card.md.j2 arranges them, and a
project's own templates/model-card.md.j2 states its intended use (release/templates.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from actions_mlops.core.config import (
    GATE_FILE,
    METRICS_FILE,
    MODEL_CARD,
    MODEL_FILE,
    PROFILE_FILE,
    SLICES_FILE,
    Params,
    load_params,
)
from actions_mlops.core.git import head
from actions_mlops.core.markdown import inert, plain
from actions_mlops.core.typed import read_yaml
from actions_mlops.data.contract import (
    Contract,
    load_contract,
)
from actions_mlops.release import templates
from actions_mlops.release.fingerprint import md5
from actions_mlops.release.versions import version_of


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def data_fingerprint(raw: Path) -> str:
    """The raw data's md5 as dvc.lock records it (no data needed), else computed."""
    lock = Path("dvc.lock")
    stages = read_yaml(lock)["stages"] if lock.exists() else {}
    for stage in stages.values():
        for entry in [*stage.get("deps", []), *stage.get("outs", [])]:
            if entry["path"] == raw.as_posix():
                return entry["md5"]
    return md5(raw) if raw.exists() else "unknown"


def data_section(contract: Contract, profile: dict[str, Any] | None, params: Params) -> list[str]:
    """Rows, features, the target's distribution and the numeric ranges seen in training, from
    the training data's profile (reports/reference_profile.json), so no data is needed."""
    raw = params.data.raw
    lines = [
        f"- Data fingerprint: `{raw.as_posix()}` md5 `{data_fingerprint(raw)}`",
        f"- Features ({len(contract.features)}): {len(contract.numeric_features)} numeric, "
        f"{len(contract.categorical_features)} categorical; "
        f"target {inert(contract.target, table=False)}",
    ]
    if profile is None:
        return [*lines, f"- No training data profile at `{PROFILE_FILE}`: run `make repro`."]
    lines.insert(0, f"- Training rows: {profile['rows']}")
    columns = profile["columns"]
    target = columns.get(contract.target)
    if target and target["kind"] == "categorical":
        total = sum(target["counts"].values())
        shares = ", ".join(
            f"{inert(label, table=False)} {count / total:.1%}"
            for label, count in sorted(target["counts"].items())
        )
        kind = "Classes" if params.task == "classification" else "Target values"
        lines.append(f"- {kind}: {shares}")
    elif target:
        quantiles = target["quantiles"]
        lines.append(
            f"- Target median {quantiles[len(quantiles) // 2]:.4g}, standard deviation "
            f"{target['std']:.4g}, range {quantiles[0]:.4g} to {quantiles[-1]:.4g}"
        )
    lines += ["", "| numeric feature | min | max | missing |", "|---|---|---|---|"]
    for name in contract.numeric_features:
        column = columns.get(name)
        if column and column["kind"] == "numeric":
            missing = column["missing"] / max(1, column["rows"] + column["missing"])
            low, high = column["quantiles"][0], column["quantiles"][-1]
            lines.append(f"| {inert(name)} | {low:.4g} | {high:.4g} | {missing:.1%} |")
    return lines


def metrics_section(metrics: dict[str, Any], confidence: float) -> list[str]:
    """Every metric with its bootstrap interval."""
    lines = [
        f"Test rows: {metrics.get('test_rows', '?')}; primary metric `{metrics['primary']}`.",
        "",
        f"| metric | value | {confidence:.0%} bootstrap interval |",
        "|---|---|---|",
    ]
    for name, entry in metrics["metrics"].items():
        lines.append(
            f"| {name} | {entry['value']:.4f} | [{entry['ci_low']:.4f}, {entry['ci_high']:.4f}] |"
        )
    return lines


def slices_section(slices: dict[str, list[dict[str, Any]]] | None) -> list[str]:
    """Per-slice metrics (evaluate.slices)."""
    if not slices:
        return ["No slices configured (params `evaluate.slices`)."]
    lines = []
    for column, groups in slices.items():
        names = [key for key in groups[0] if key not in ("value", "rows")] if groups else []
        lines += [
            f"{inert(column, table=False)}:",
            "",
            "| value | rows | " + " | ".join(names) + " |",
            "|---|---|" + "---|" * len(names),
        ]
        for group in groups:
            cells = " | ".join(f"{group[name]:.4f}" for name in names)
            lines.append(f"| {inert(group['value'])} | {group['rows']} | {cells} |")
        lines.append("")
    return lines


def gate_section(gate: dict[str, Any] | None) -> list[str]:
    """The verdict and any failed check."""
    if gate is None:
        return [f"Not gated yet (`{GATE_FILE.as_posix()}` missing)."]
    failed = [check for check in gate.get("checks", []) if not check.get("passed")]
    lines = [f"**{gate['verdict']}**" + (f"; {len(failed)} failed checks:" if failed else ".")]
    lines += [f"- {plain(check['name'])}: {plain(check['reason'])}" for check in failed]
    lines += [f"- {note}" for note in gate.get("notes", [])]
    return lines


def render(params: Params, contract: Contract) -> str:
    """The model card's markdown: templates/model-card.md.j2 (the project's, else the
    platform's) filled with the sections computed here."""
    model = params.registry.model
    head_commit = head()
    registered = version_of(model, head_commit)
    commit = head_commit or "uncommitted"
    version = registered.version if registered else "unregistered"
    sections = {
        "data": data_section(contract, _read_json(PROFILE_FILE), params),
        "metrics": metrics_section(_read_json(METRICS_FILE), params.evaluate.bootstrap.confidence),
        "slices": slices_section(_read_json(SLICES_FILE)),
        "gate": gate_section(_read_json(GATE_FILE)),
    }
    return templates.render(
        "model-card.md.j2",
        model=model,
        version=version,
        task=params.task,
        estimator=params.model.estimator,
        commit=commit,
        model_file=MODEL_FILE.as_posix(),
        model_md5=md5(MODEL_FILE),
        sections={name: "\n".join(lines) for name, lines in sections.items()},
        checkout=f"git checkout {model}@{version}" if registered else f"git checkout {commit}",
    )


def write_model_card(path: Path = MODEL_CARD) -> Path:
    """Write the model card of the current workspace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(load_params(), load_contract()), encoding="utf-8")
    return path


def main() -> int:
    """CLI entry: write release/model-card.md."""
    print(f"model-card: wrote {write_model_card()}")
    return 0
