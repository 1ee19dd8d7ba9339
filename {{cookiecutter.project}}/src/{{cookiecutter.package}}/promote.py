"""Promote: assign a registered version to a stage, as GTO's tag `<model>#<stage>#N`.

`make promote VERSION=v1.2.0 STAGE=prod`; the gate's champion is the version last assigned to
params `registry.champion_stage`. With a git remote `origin`, the tag is pushed, retrying with
the next N when another run took it.
"""

from __future__ import annotations

import argparse
import sys

from gto import api as gto

from {{ cookiecutter.package }}.config import load_params
from {{ cookiecutter.package }}.registry import (
    RegistryError,
    has_origin,
    publish,
    versions,
)


def promote(version: str, stage: str) -> str:
    """Assign `version` to `stage`; returns the stage tag it made."""
    model = load_params().registry.model

    def make_tag() -> str:
        known = {v["version"]: v for v in versions(model)}
        if version not in known:
            listed = ", ".join(sorted(known)) or "none yet"
            raise RegistryError(f"{model}@{version} is not registered (registered: {listed})")
        assignment = gto.assign(
            ".", model, stage, version=version, message=f"{model} {version} -> {stage}"
        )
        return assignment.tag

    tag = publish(make_tag)
    assert tag is not None
    print(
        f"promote: {tag} assigns {model} {version} to {stage}"
        + (" (pushed)" if has_origin() else "")
    )
    return tag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `promote`."""
    parser.add_argument("--version", required=True, help="a registered version, e.g. v1.2.0")
    parser.add_argument("--stage", required=True, help="the stage, e.g. prod")


def main(args: argparse.Namespace) -> int:
    """CLI entry: assign the version to the stage; exit 1 with the reason when refused."""
    try:
        promote(args.version, args.stage)
    except RegistryError as error:
        print(f"promote: refused: {error}", file=sys.stderr)
        return 1
    return 0
