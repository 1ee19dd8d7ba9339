"""Release artifacts: everything a GitHub Release of HEAD's registered version carries.

release/ gets the model file (the gate fetches a champion's `model.skops` from its release),
the model card, the metrics, the gate report, the exported bento (`bentoml export`, models
included: `bentoml import` it anywhere) and SHA256SUMS.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import bentoml

from actions_mlops.core.config import (
    GATE_FILE,
    METRICS_FILE,
    MODEL_FILE,
    RELEASE,
)
from actions_mlops.release.modelcard import write_model_card
from actions_mlops.release.package import package
from actions_mlops.release.registry import RegistryError


def release_artifacts(folder: Path = RELEASE) -> list[Path]:
    """Fill `folder` (emptied first) with the release's files; returns them."""
    bento = package()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_model_card(folder / "model-card.md")
    gate = [GATE_FILE] if GATE_FILE.exists() else []
    for source in (MODEL_FILE, METRICS_FILE, *gate):
        shutil.copy(source, folder / source.name)
    exported = folder / f"{bento.tag.name}-{bento.tag.version}.bento"
    bentoml.bentos.export_bento(bento.tag, str(exported.resolve()))
    files = sorted(path for path in folder.iterdir() if path.is_file())
    sums = [f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}" for path in files]
    (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    return [*files, folder / "SHA256SUMS"]


def main() -> int:
    """CLI entry: write release/ for HEAD's registered version."""
    try:
        files = release_artifacts()
    except RegistryError as error:
        print(f"release-artifacts: refused: {error}", file=sys.stderr)
        return 1
    for path in files:
        print(f"release-artifacts: {path} ({path.stat().st_size} bytes)")
    return 0
