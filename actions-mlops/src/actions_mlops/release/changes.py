"""What changed since another commit, besides params: the contract, the data and the code of
the pipeline's stages. The report's sections that explain a change in the metrics.

Everything is read from committed files at the other commit (`git show`) and from the working
tree: contract.yaml as parsed YAML, the data's hash and each stage's code from dvc.lock (the
md5 DVC recorded for every dependency), the data's rows from reports/validation.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from actions_mlops.core import git
from actions_mlops.core.config import CONTRACT_FILE, VALIDATION_REPORT
from actions_mlops.core.typed import parse_yaml

LOCK_FILE = Path("dvc.lock")
MAX_ROWS = 20


def current(path: Path) -> str | None:
    """`path` in the working tree; None when it does not exist."""
    return path.read_text(encoding="utf-8") if path.exists() else None


def stage_deps(lock_text: str | None) -> dict[str, dict[str, str]]:
    """dvc.lock as {stage: {dependency path: md5}} (empty without a lock)."""
    lock = parse_yaml(lock_text or "", "dvc.lock") or {}
    return {
        stage: {dep["path"]: dep.get("md5", "") for dep in entry.get("deps") or []}
        for stage, entry in (lock.get("stages") or {}).items()
    }


def code_changes(before: str | None, after: str | None) -> dict[str, list[str]]:
    """Per stage, the Python files among its dependencies that differ (added, removed or a new
    md5) between two dvc.lock texts; stages whose code did not change are left out."""
    old, new = stage_deps(before), stage_deps(after)
    changed = {}
    for stage in sorted(new):
        deps_before, deps_after = old.get(stage, {}), new[stage]
        code = {p for p in deps_before.keys() | deps_after.keys() if p.endswith(".py")}
        files = sorted(p for p in code if deps_before.get(p) != deps_after.get(p))
        if files:
            changed[stage] = files
    return changed


def code_section(rev: str, label: str) -> list[str]:
    """Which stages' code changed since `rev` (named `label` in the text), from dvc.lock."""
    before = git.show_file(rev, LOCK_FILE)
    if before is None:
        return [f"- code: no `{LOCK_FILE}` at {label} to compare with."]
    changed = code_changes(before, current(LOCK_FILE))
    if not changed:
        return [f"- code: no stage's code changed since {label}."]
    lines = [f"- code changed since {label} in {len(changed)} stage(s):"]
    for stage, files in changed.items():
        shown = ", ".join(f"`{f}`" for f in files[:5])
        more = f" and {len(files) - 5} more" if len(files) > 5 else ""
        lines.append(f"  - `{stage}`: {shown}{more}")
    return lines


def lock_md5(lock_text: str | None, path: Path) -> str | None:
    """The md5 dvc.lock records for `path` (as any stage's dependency or output)."""
    lock = parse_yaml(lock_text or "", "dvc.lock") or {}
    for entry in (lock.get("stages") or {}).values():
        for item in (entry.get("deps") or []) + (entry.get("outs") or []):
            if item.get("path") == path.as_posix() and item.get("md5"):
                return str(item["md5"])
    return None


def validated_rows(text: str | None) -> int | None:
    """Rows of the raw data as the last `make validate` counted them (reports/validation.json)."""
    rows = (json.loads(text) if text else {}).get("rows")
    return rows if isinstance(rows, int) else None


def data_line(rev: str, label: str, raw: Path) -> str:
    """The raw data now and at `rev`: rows and dvc.lock's md5, and whether they changed."""
    rows_now = validated_rows(current(VALIDATION_REPORT))
    rows_then = validated_rows(git.show_file(rev, VALIDATION_REPORT))
    md5_now = lock_md5(current(LOCK_FILE), raw)
    md5_then = lock_md5(git.show_file(rev, LOCK_FILE), raw)
    rows = "—" if rows_now is None else f"{rows_now:,}"
    short = "—" if md5_now is None else md5_now[:8]
    if md5_then is None and rows_then is None:
        return f"- data `{raw}`: {rows} rows, md5 `{short}` (nothing recorded at {label})"
    if md5_now == md5_then:
        return f"- data `{raw}`: unchanged since {label} ({rows} rows, md5 `{short}`)"
    before_rows = "—" if rows_then is None else f"{rows_then:,}"
    before_md5 = "—" if md5_then is None else md5_then[:8]
    return (
        f"- data `{raw}` **changed** since {label}: {before_rows} → {rows} rows, "
        f"md5 `{before_md5}` → `{short}`"
    )


def contract_columns(text: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """contract.yaml's columns and table rules (both empty without a contract)."""
    contract = parse_yaml(text or "", "contract.yaml") or {}
    return contract.get("columns") or {}, contract.get("table") or {}


def describe(entry: dict[str, Any]) -> str:
    """A column in a few words: its role and dtype."""
    return f"{entry.get('role', 'feature')}, {entry.get('dtype', '?')}"


def contract_changes(before: str | None, after: str | None) -> list[str]:
    """One phrase per difference between two contracts: columns added or removed, and each
    changed field of a column or of the table rules (`field: old → new`)."""
    (old, old_table), (new, new_table) = contract_columns(before), contract_columns(after)
    found = [f"column `{c}` added ({describe(new[c])})" for c in new if c not in old]
    found += [f"column `{c}` removed (was {describe(old[c])})" for c in old if c not in new]
    for column in (c for c in new if c in old):
        a, b = old[column] or {}, new[column] or {}
        for key in sorted(a.keys() | b.keys()):
            if a.get(key) != b.get(key):
                found.append(f"`{column}` {key}: `{a.get(key, '—')}` → `{b.get(key, '—')}`")
    for key in sorted(old_table.keys() | new_table.keys()):
        if old_table.get(key) != new_table.get(key):
            found.append(f"table {key}: `{old_table.get(key, '—')}` → `{new_table.get(key, '—')}`")
    return found


def contract_section(rev: str, label: str) -> list[str]:
    """The contract's changes since `rev`, one bullet each (at most MAX_ROWS shown)."""
    before = git.show_file(rev, CONTRACT_FILE)
    if before is None:
        return [f"- contract: no `{CONTRACT_FILE}` at {label} to compare with."]
    found = contract_changes(before, current(CONTRACT_FILE))
    if not found:
        return [f"- contract: unchanged since {label}."]
    lines = [f"- contract `{CONTRACT_FILE}` changed since {label}:"]
    lines += [f"  - {phrase}" for phrase in found[:MAX_ROWS]]
    if len(found) > MAX_ROWS:
        lines.append(f"  - … and {len(found) - MAX_ROWS} more changes")
    return lines


def changes_section(references: list[tuple[str, str]], raw: Path) -> list[str]:
    """Contract, data and code compared with each reference (`(commit, label)`: the base
    branch, the champion), so a change in the metrics comes with its causes."""
    if not references:
        return []
    lines = ["", "### What changed", ""]
    for rev, label in references:
        lines += contract_section(rev, label)
        lines.append(data_line(rev, label, raw))
        lines += code_section(rev, label)
    return lines
