"""Containerize: an OCI image of HEAD's bento, tagged for the GitHub container registry.

Needs a Docker engine (`bentoml containerize`). The image is `IMAGE:<X.Y.Z>` and `IMAGE:latest`.
"""

from __future__ import annotations

import subprocess
import sys

from {{ cookiecutter.package }}.package import package
from {{ cookiecutter.package }}.registry import RegistryError

IMAGE = "ghcr.io/{{ cookiecutter.github_owner | lower }}/{{ cookiecutter.project }}"


def main() -> int:
    """CLI entry: package when needed, then build the image with BentoML."""
    try:
        bento = package()
    except RegistryError as error:
        print(f"containerize: refused: {error}", file=sys.stderr)
        return 1
    semver = str(bento.tag.version).removeprefix("v")
    command = [sys.executable, "-m", "bentoml", "containerize", str(bento.tag)]
    command += ["--image-tag", f"{IMAGE}:{semver}", "--image-tag", f"{IMAGE}:latest"]
    return subprocess.run(command, check=False).returncode
