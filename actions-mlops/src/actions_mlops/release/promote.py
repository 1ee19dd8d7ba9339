"""Promote: assign a registered version to a stage, as GTO's tag `<model>#<stage>#N`.

`make promote VERSION=v1.2.0 STAGE=prod`; the gate's champion is the version that holds params
`registry.champion_stage` as GTO reads it (versions.py): the one last assigned to it, unless
unassigned since. Promoting the version the stage already holds does nothing; promoting an older
version again (a rollback) makes a new assignment. With a git remote `origin`, the tag is
pushed, retrying with the next N when another run took it.
"""

from __future__ import annotations

import argparse
import sys
import time

from gto import api as gto
from gto.constants import name_re

from actions_mlops.core.config import load_params
from actions_mlops.release.registry import (
    RegistryError,
    has_origin,
    publish,
)
from actions_mlops.release.versions import (
    in_stage,
    versions,
)


def check_stage(stage: str) -> None:
    """Refuse a stage name GTO cannot put in a tag (its own rule, checked before calling it)."""
    if not name_re.fullmatch(stage):
        raise RegistryError(
            f"stage {stage!r} is not allowed: letters, digits, '-', '_' and '/', starting and "
            "ending with a letter or digit (e.g. prod, staging)"
        )


def next_second() -> None:
    """Wait for the clock's next whole second. GTO orders a stage's assignments by their tags'
    times, in whole seconds: one made in the same second as the one before it (a quick rollback)
    could not be told apart from it."""
    time.sleep(1 - time.time() % 1)


def promote(version: str, stage: str) -> str | None:
    """Assign `version` to `stage`; returns the stage tag it made (None: it already holds it)."""
    check_stage(stage)
    model = load_params().registry.model

    def make_tag() -> str | None:
        known = [v.version for v in versions(model)]
        if version not in known:
            listed = ", ".join(sorted(known)) or "none yet"
            raise RegistryError(f"{model}@{version} is not registered (registered: {listed})")
        current = in_stage(model, stage)
        if current is not None and current.version == version:
            print(f"promote: {model} {version} is already in {stage}; nothing to do")
            return None
        # force: GTO refuses a version that was in the stage before; assigning it again is a
        # rollback, and the newest assignment is the one that counts.
        next_second()
        assignment = gto.assign(
            ".", model, stage, version=version, message=f"{model} {version} -> {stage}", force=True
        )
        return assignment.tag

    tag = publish(make_tag)
    if tag is not None:
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
