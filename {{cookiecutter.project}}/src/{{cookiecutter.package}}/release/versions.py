"""Versions: the registry as GTO reads it from the git tags, newest first."""

from __future__ import annotations

from gto.versions import SemVer

from {{ cookiecutter.package }}.core.config import load_params
from {{ cookiecutter.package }}.release.registry import (
    fetch_tags,
    versions,
)


def main() -> int:
    """CLI entry: fetch tags from origin (when there is one) and print every version."""
    model = load_params().registry.model
    fetch_tags()
    found = sorted(versions(model), key=lambda v: SemVer(v["version"]), reverse=True)
    if not found:
        print(f"versions: {model} has no registered version yet (`make register`)")
        return 0
    print(f"{model}\n{'version':<10} {'stages':<16} {'commit':<9} registered")
    for entry in found:
        stages = ", ".join(sorted({s["stage"] for s in entry["stages"]})) or "-"
        registered = entry["registrations"][0]["created_at"]
        print(f"{entry['version']:<10} {stages:<16} {entry['commit_hexsha'][:8]:<9} {registered}")
    return 0
