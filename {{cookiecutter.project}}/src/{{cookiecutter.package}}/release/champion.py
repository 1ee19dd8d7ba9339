"""Champion: the registered version the gate compares with, read from git tags (GTO's form).

Versions are annotated tags `<model>@vX.Y.Z`; stage assignments are `<model>#<stage>#N` on the
version's commit. The champion is the latest assignment to the champion stage, else the
latest version.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from {{ cookiecutter.package }}.core.config import (
    METRICS_FILE,
    MODEL_FILE,
)
from {{ cookiecutter.package }}.core.modelfile import verify_hash


@dataclass(frozen=True)
class Champion:
    """One registered version of the model."""

    model: str
    version: str  # "v1.2.3"
    commit: str
    stage: str | None = None  # the stage it was found through, if any

    @property
    def tag(self) -> str:
        """The version's git tag."""
        return f"{self.model}@{self.version}"


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def _tags(pattern: str) -> list[tuple[str, str]]:
    """(tag name, commit it points to) for tags matching a glob."""
    # %(*objectname) is the commit an annotated tag points to (empty for a lightweight tag)
    listing = _git(
        "for-each-ref", "--format=%(refname:strip=2) %(objectname) %(*objectname)", "refs/tags"
    )
    pairs = [line.split() for line in listing.splitlines()]
    return [(parts[0], parts[-1]) for parts in pairs if fnmatch.fnmatchcase(parts[0], pattern)]


def versions(model: str) -> list[Champion]:
    """Every registered version, oldest first."""
    found = []
    for tag, commit in _tags(f"{model}@v*"):
        match = re.fullmatch(rf"{re.escape(model)}@v(\d+)\.(\d+)\.(\d+)", tag)
        if match:
            version = Champion(model, tag.split("@", 1)[1], commit)
            found.append((tuple(map(int, match.groups())), version))
    return [champion for _, champion in sorted(found)]


def find_champion(model: str, stage: str) -> Champion | None:
    """The version last assigned to `stage`, else the latest version, else None."""
    registered = versions(model)
    by_commit = {v.commit: v for v in registered}
    assignments = []
    for tag, commit in _tags(f"{model}#{stage}#*"):
        match = re.fullmatch(rf"{re.escape(model)}#{re.escape(stage)}#(\d+)", tag)
        if match and commit in by_commit:
            assignments.append((int(match.group(1)), by_commit[commit]))
    if assignments:
        latest = max(assignments, key=lambda pair: pair[0])[1]
        return Champion(model, latest.version, latest.commit, stage)
    return registered[-1] if registered else None


def git_show(commit: str, path: Path) -> str | None:
    """A file as committed at `commit`, or None when it was not there."""
    return _git("show", f"{commit}:{path.as_posix()}") or None


def recorded_metrics(champion: Champion) -> dict[str, Any] | None:
    """The champion's reports/metrics.json as committed at its tag."""
    text = git_show(champion.commit, METRICS_FILE)
    return json.loads(text) if text else None


def tag_message(tag: str) -> str:
    """The message of an annotated tag (the registry entry), or "" when there is none."""
    return _git("tag", "--list", "--format=%(contents)", tag)


def fetch_model(champion: Champion, destination: Path) -> str | None:
    """Fetch the champion's model file; return where it came from, or None when it cannot be had.

    Tries DVC (local cache, then the configured remote) at the champion's commit, then the
    GitHub Release asset of its tag (needs the `gh` CLI and GH_TOKEN, as in CI). The file is
    written to `destination` only when its hash is the one the champion's tag records; any other
    file raises ModelFileError (no fallback to another source).
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as folder:
        fetched = Path(folder) / MODEL_FILE.name
        source = _download(champion, fetched)
        if source is None:
            return None
        verify_hash(fetched, tag_message(champion.tag), f"tag {champion.tag}")
        fetched.replace(destination)
    return source


def _download(champion: Champion, target: Path) -> str | None:
    """Write the champion's model file to `target` from DVC or its GitHub Release; say which."""
    try:
        import dvc.api

        with dvc.api.open(MODEL_FILE.as_posix(), rev=champion.commit, mode="rb") as source:
            target.write_bytes(source.read())
        return f"DVC at {champion.tag}"
    except Exception:  # any DVC failure means "not available from DVC"
        target.unlink(missing_ok=True)
    if shutil.which("gh") and os.environ.get("GH_TOKEN"):
        result = subprocess.run(
            ["gh", "release", "download", champion.tag, "-p", MODEL_FILE.name, "-D", target.parent],
            capture_output=True,
            check=False,
        )
        if result.returncode == 0 and target.exists():
            return f"GitHub Release {champion.tag}"
    return None
