"""Versions: the model registry as GTO reads it from the git tags, and the `versions` step.

This module is the registry's only reader, and it reads through GTO's API (`gto.api.show`), so
the gate's champion, `make versions`, `make register`'s bump, `make package` and the Makefile's
release targets say what `gto show` says: a deregistered version is gone, an unassigned stage is
empty, a rollback counts. Outside a git repository there is no registry (nothing registered).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gto import api as gto
from gto.exceptions import ArtifactNotFound, GTOException
from gto.versions import SemVer

from actions_mlops.core import git
from actions_mlops.core.config import MODEL_FILE, load_params
from actions_mlops.core.errors import StepError
from actions_mlops.core.modelfile import file_hash, recorded_hash


@dataclass(frozen=True)
class Version:
    """One registered version of the model, as GTO reports it."""

    model: str
    version: str  # "v1.2.3"
    commit: str
    stages: tuple[str, ...]  # the stages this version holds now
    registered_at: datetime
    message: str  # the registration tag's message: the registry entry

    @property
    def tag(self) -> str:
        """The version's git tag."""
        return f"{self.model}@{self.version}"


def _entry(model: str, shown: dict[str, Any]) -> Version:
    registration = shown["registrations"][0]
    return Version(
        model=model,
        version=shown["version"],
        commit=shown["commit_hexsha"],
        stages=tuple(sorted({stage["stage"] for stage in shown["stages"]})),
        registered_at=registration["created_at"],
        message=registration["message"],
    )


def versions(model: str) -> list[Version]:
    """Every registered version (deregistered ones left out), highest first."""
    if not git.in_repository():
        return []
    try:
        shown = gto.show(".", model, registered_only=True)
    except ArtifactNotFound:  # no tag of this model yet
        return []
    except GTOException as error:
        raise StepError(f"GTO cannot read the registry: {error}") from None
    found = [_entry(model, entry) for entry in shown if entry["registrations"]]
    return sorted(found, key=lambda v: SemVer(v.version), reverse=True)


def latest(model: str) -> Version | None:
    """The highest registered version, or None before the first registration."""
    return next(iter(versions(model)), None)


def in_stage(model: str, stage: str) -> Version | None:
    """The version GTO says holds `stage` (its latest assignment, unless unassigned), or None."""
    return next((v for v in versions(model) if stage in v.stages), None)


def version_of(model: str, commit: str | None) -> Version | None:
    """The version registered on `commit`, if any (the highest, should there be several)."""
    return next((v for v in versions(model) if v.commit == commit), None) if commit else None


def head_version(model: str) -> Version | None:
    """The version registered on HEAD, if any."""
    return version_of(model, git.head())


def fetch_tags() -> None:
    """Bring the local tags up to date with origin (a no-op without origin)."""
    if git.remote_url("origin") is not None:
        git.git("fetch", "--quiet", "origin", "+refs/tags/*:refs/tags/*")


def origin_tip(branch: str) -> str | None:
    """The commit origin's `branch` is at now (fetched); None without origin."""
    if git.remote_url("origin") is None:
        return None
    git.git("fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
    return git.commit_of(f"refs/remotes/origin/{branch}")


def check_descends(newest: Version | None, commit: str) -> None:
    """Refuse a commit that does not contain the latest version's commit: releasing it (an old
    commit's run re-run) would make an older state the newest version and `:latest`."""
    if newest is not None and not git.is_ancestor(newest.commit, commit):
        raise StepError(
            f"{commit[:12]} is not a descendant of the latest version {newest.tag} "
            f"({newest.commit[:12]}): an older commit is never released; release main's tip"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `versions`."""
    parser.add_argument(
        "--head",
        action="store_true",
        help="print only HEAD's version tag (nothing when HEAD is not registered); no fetch",
    )
    parser.add_argument(
        "--model-changed",
        action="store_true",
        help="print changed=true|false: is the workspace model another than the latest version's?",
    )
    parser.add_argument(
        "--latest", action="store_true", help="print only the latest version's tag; no fetch"
    )


def model_changed(model: str, branch: str) -> tuple[bool, str]:
    """Whether HEAD has a model to release, and why: models/model.skops differs from the latest
    version's recorded hash. Refuses (StepError) a HEAD that does not descend from the latest
    version; says no when origin's `branch` has moved past HEAD: the run of its tip releases,
    and compares with the latest version too, so a change of a skipped commit is in it."""
    fetch_tags()
    newest, commit = latest(model), git.head()
    if commit is not None:  # before the first commit there is no version and no history
        check_descends(newest, commit)
        tip = origin_tip(branch)
        if tip is not None and not git.is_ancestor(tip, commit):
            return False, (
                f"origin's {branch} has moved on to {tip[:12]}: the run of that commit releases "
                f"the newest model, this change included"
            )
    current = file_hash(MODEL_FILE)
    recorded = recorded_hash(newest.message) if newest else None
    if newest and recorded and file_hash(MODEL_FILE, recorded.algorithm) == recorded.digest:
        return False, f"{MODEL_FILE} is the model of {newest.tag}: nothing to register"
    known = newest.tag if newest else "any version yet"
    return True, f"{MODEL_FILE} (sha256 {current}) is not the model of {known}"


def main(args: argparse.Namespace) -> int:
    """CLI entry: fetch tags from origin (when there is one) and print every version."""
    registry = load_params().registry
    model = registry.model
    if args.model_changed:
        changed, why = model_changed(model, registry.branch)
        print(f"changed={str(changed).lower()}\n{why}")
        return 0
    if args.latest:
        newest = latest(model)
        if newest is not None:
            print(newest.tag)
        return 0
    if args.head:
        version = head_version(model)
        if version is not None:
            print(version.tag)
        return 0
    fetch_tags()
    found = versions(model)
    if not found:
        print(f"versions: {model} has no registered version yet (`make register`)")
        return 0
    print(f"{model}\n{'version':<10} {'stages':<16} {'commit':<9} registered")
    for entry in found:
        stages = ", ".join(entry.stages) or "-"
        print(f"{entry.version:<10} {stages:<16} {entry.commit[:8]:<9} {entry.registered_at}")
    return 0
