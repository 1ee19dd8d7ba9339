"""Champion: the registered version the gate compares with, as GTO reports it (versions.py).

The champion is the version GTO says holds the champion stage (params
`registry.champion_stage`), else the highest registered version.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actions_mlops.core.config import (
    METRICS_FILE,
    MODEL_FILE,
)
from actions_mlops.core.git import show_file
from actions_mlops.core.modelfile import verify_hash
from actions_mlops.release.versions import versions


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


def find_champion(model: str, stage: str) -> Champion | None:
    """The version in `stage`, else the latest version, else None."""
    registered = versions(model)  # highest first
    holder = next((v for v in registered if stage in v.stages), None)
    if holder is not None:
        return Champion(model, holder.version, holder.commit, stage)
    return Champion(model, registered[0].version, registered[0].commit) if registered else None


def recorded_metrics(champion: Champion) -> dict[str, Any] | None:
    """The champion's reports/metrics.json as committed at its tag."""
    text = show_file(champion.commit, METRICS_FILE)
    return json.loads(text) if text else None


def registry_entry(champion: Champion) -> str:
    """The message of the champion's registration (it records the model file's hashes)."""
    entry = next((v for v in versions(champion.model) if v.version == champion.version), None)
    return entry.message if entry else ""


def fetch_model(champion: Champion, destination: Path) -> tuple[str | None, str]:
    """Fetch the champion's model file: (where it came from, "") or (None, why it cannot be had).

    Tries DVC (local cache, then the configured remote) at the champion's commit, then the
    GitHub Release asset of its tag (needs the `gh` CLI and GH_TOKEN, as in CI). The file is
    written to `destination` only when its hash is the one the champion's tag records; any other
    file raises ModelFileError (no fallback to another source).
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as folder:
        fetched = Path(folder) / MODEL_FILE.name
        source, reason = _download(champion, fetched)
        if source is None:
            return None, reason
        verify_hash(fetched, registry_entry(champion), f"tag {champion.tag}")
        fetched.replace(destination)
    return source, ""


# The errors of each remote's SDK that mean "the remote cannot provide the file".
SDK_ERRORS = (
    ("botocore.exceptions", ("BotoCoreError", "ClientError")),
    ("google.auth.exceptions", ("GoogleAuthError",)),
    ("azure.core.exceptions", ("AzureError",)),
)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no reason given")


def _unavailable_from_dvc() -> tuple[type[Exception], ...]:
    """The errors that mean "DVC cannot provide the file" (any other error is a bug and
    propagates): DVC's own (not tracked at that commit, not in the cache and no remote, unknown
    revision), I/O errors of the cache or the remote, and the remote SDK's (credentials, access)
    for whichever of S3, GCS or Azure is installed (the project's dvc extra)."""
    from dvc.exceptions import DvcException

    errors: list[type[Exception]] = [DvcException, OSError]
    for module, names in SDK_ERRORS:
        try:
            imported = importlib.import_module(module)
        except ImportError:
            continue
        errors.extend(getattr(imported, name) for name in names)
    return tuple(errors)


def _download(champion: Champion, target: Path) -> tuple[str | None, str]:
    """Write the champion's model file to `target` from DVC or its GitHub Release:
    (which, "") or (None, why neither had it)."""
    import dvc.api

    try:
        with dvc.api.open(MODEL_FILE.as_posix(), rev=champion.commit, mode="rb") as source:
            target.write_bytes(source.read())
        return f"DVC at {champion.tag}", ""
    except _unavailable_from_dvc() as error:
        target.unlink(missing_ok=True)
        reasons = [f"DVC: {type(error).__name__}: {_first_line(str(error))}"]
    if not (shutil.which("gh") and os.environ.get("GH_TOKEN")):
        return None, "; ".join([*reasons, "GitHub Release: needs the gh CLI and GH_TOKEN"])
    result = subprocess.run(
        ["gh", "release", "download", champion.tag, "-p", MODEL_FILE.name, "-D", target.parent],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0 and target.exists():
        return f"GitHub Release {champion.tag}", ""
    reasons.append(f"GitHub Release: {_first_line(result.stderr)}")
    return None, "; ".join(reasons)
