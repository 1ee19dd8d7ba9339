"""Fingerprints: what a gate verdict judged, so that `register` can tell it still holds.

The gate records them in reports/gate.json; `register` computes them again on HEAD and refuses
when one differs. Files are hashed as bytes (SHA-256; the model's and the data's MD5 too, the hash
DVC records in dvc.lock); params.yaml and contract.yaml as their parsed content, so comments
and layout do not count.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from actions_mlops.core.config import (
    CONTRACT_FILE,
    MODEL_FILE,
    PARAMS_FILE,
)
from actions_mlops.core.git import (
    head,
    is_clean,
)
from actions_mlops.core.modelfile import file_hash
from actions_mlops.core.typed import read_yaml


def md5(path: Path) -> str:
    """MD5 of a file, the hash DVC records in dvc.lock."""
    return file_hash(path, "md5")


def sha256(path: Path) -> str:
    """SHA-256 of a file."""
    return file_hash(path, "sha256")


def yaml_hash(path: Path) -> str:
    """SHA-256 of a YAML file's parsed content (comments and layout do not count)."""
    parsed = read_yaml(path)
    canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def params_hash() -> str:
    """SHA-256 of params.yaml's parsed content."""
    return yaml_hash(PARAMS_FILE)


def git_state() -> tuple[str | None, bool]:
    """(HEAD's commit, whether tracked files are unchanged); (None, False) before the first
    commit or outside a git repository: a verdict on no commit, which `register` refuses."""
    commit = head()
    return (commit, is_clean()) if commit else (None, False)


def fingerprints(data: Path) -> dict[str, Any]:
    """What a verdict on the current model depends on: commit, tree, model, data, params and
    contract (`data` is params `data.raw`)."""
    commit, clean = git_state()
    return {
        "commit": commit,
        "clean": clean,
        "model": {
            "path": MODEL_FILE.as_posix(),
            "md5": md5(MODEL_FILE),
            "sha256": sha256(MODEL_FILE),
        },
        "data": {"path": data.as_posix(), "sha256": sha256(data)},
        "params": {"path": PARAMS_FILE.as_posix(), "sha256": params_hash()},
        "contract": {"path": CONTRACT_FILE.as_posix(), "sha256": yaml_hash(CONTRACT_FILE)},
    }


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """How `current` fingerprints differ from `recorded` ones, one phrase each (empty: none)."""
    found = []
    if recorded.get("commit") != current["commit"]:
        judged = (recorded.get("commit") or "none")[:12]
        found.append(f"gate judged commit {judged}, HEAD is {str(current['commit'])[:12]}")
    elif not recorded.get("clean"):
        found.append("gate ran with uncommitted changes")
    for name in ("model", "data", "params", "contract"):
        judged, now = recorded.get(name) or {}, current[name]
        if (judged.get("path"), judged.get("sha256")) != (now["path"], now["sha256"]):
            found.append(f"{now['path']} differs")
    return found
