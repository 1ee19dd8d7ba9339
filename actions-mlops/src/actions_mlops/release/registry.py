"""Register: the current commit becomes a model version, an annotated git tag written by GTO.

Versions are tags `<model>@vX.Y.Z` and stage assignments `<model>#<stage>#N` (GTO's form), so
`gto show` and plain `git tag -n99` read the registry; the tag message records the metrics, the
gate verdict, the data and model fingerprints, the params hash and the commit.

Version bump rule (override with `--bump`), against the latest registered version (versions.py):
  major  the contract's request schema changed incompatibly: a feature added, removed or
         retyped, a feature no longer nullable, or the target changed;
  minor  the primary metric (params `evaluate.primary`) improved on the recorded value;
  patch  otherwise.
The first version is v0.1.0.

Refuses (exit 1) without a BLESSED reports/gate.json, with uncommitted changes, with a
pipeline out of date, or when the gate judged something else than HEAD (another commit, a dirty
tree, another model, data, params or contract: see fingerprint.py), or when HEAD does not
descend from the latest version's commit (an old commit never becomes the newest version); a
commit that already carries a version is a no-op. With a git remote `origin`, only commits on
origin's release branch (params `registry.branch`) are registered, and the tag is pushed; when
origin already has the tag's name (another run took the version) it fetches the tags, bumps
again and retries, a bounded number of times; any other refusal stops at once with git's reason.
Models and data go to the DVC remote first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gto import api as gto
from gto.exceptions import GTOException
from gto.versions import SemVer

from actions_mlops.core.config import (
    CONTRACT_FILE,
    GATE_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PARAMS_FILE,
    load_params,
)
from actions_mlops.core.errors import StepError
from actions_mlops.core.git import (
    GitError,
    git,
    head,
    remote_url,
    show_file,
)
from actions_mlops.core.typed import CONTROL
from actions_mlops.data.contract import (
    Contract,
    load_contract,
)
from actions_mlops.release.fingerprint import (
    differences,
    fingerprints,
    md5,
    params_hash,
    sha256,
)
from actions_mlops.release.versions import (
    Version,
    check_descends,
    fetch_tags,
    latest,
    version_of,
)
from actions_mlops.training.metrics import direction

FIRST_VERSION = "v0.1.0"
BUMPS = ("major", "minor", "patch")
PUSH_ATTEMPTS = 5


class RegistryError(StepError):
    """A reason to refuse, shown to the user as one line."""


def one_line(message: str) -> str:
    """git's error output as one line: what git and the remote said, without the noise."""
    noise = ("To ", "error: failed to push some refs", "hint:")
    lines = [line.removeprefix("remote:").strip() for line in message.splitlines()]
    return "; ".join(line for line in lines if line and not line.startswith(noise)) or "no reason"


def has_origin() -> bool:
    """Whether the repository has a remote named origin to push tags to."""
    return remote_url("origin") is not None


def push_tag(tag: str) -> str | None:
    """Push one tag to origin; None when pushed, else git's reason for the refusal."""
    try:
        git("push", "--quiet", "origin", f"refs/tags/{tag}")
    except GitError as refused:
        return one_line(refused.stderr)
    return None


def origin_has(tag: str) -> bool:
    """Whether origin has a tag of this name."""
    return bool(git("ls-remote", "--tags", "origin", f"refs/tags/{tag}").strip())


def request_schema(contract: Contract) -> dict[str, Any]:
    """What a client of the model depends on: features with dtypes and whether they accept
    missing values (as in service.accepts_missing), and the target."""
    columns = contract.columns
    return {
        "features": {
            name: (columns[name].dtype, columns[name].max_null_fraction != 0)
            for name in contract.features
        },
        "target": (contract.target, contract.columns[contract.target].dtype),
    }


def incompatible(old: Contract, new: Contract) -> list[str]:
    """How `new` breaks clients of `old` (empty when it does not)."""
    before, after = request_schema(old), request_schema(new)
    problems = [
        f"feature {name!r} removed" for name in before["features"].keys() - after["features"].keys()
    ]
    problems += [
        f"feature {name!r} added" for name in after["features"].keys() - before["features"].keys()
    ]
    for name in before["features"].keys() & after["features"].keys():
        (old_dtype, old_null), (new_dtype, new_null) = (
            before["features"][name],
            after["features"][name],
        )
        if old_dtype != new_dtype:
            problems.append(f"feature {name!r} is now {new_dtype}, was {old_dtype}")
        if old_null and not new_null:
            problems.append(f"feature {name!r} no longer accepts missing values")
    if before["target"] != after["target"]:
        problems.append(f"target is now {after['target']}, was {before['target']}")
    return sorted(problems)


def choose_bump(previous: Version, contract: Contract, metrics: dict[str, Any]) -> tuple[str, str]:
    """The bump rule (see the module docstring): (kind, reason)."""
    commit, name = previous.commit, previous.version
    old_contract = show_file(commit, CONTRACT_FILE)
    if old_contract is not None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / CONTRACT_FILE.name
            path.write_text(old_contract, encoding="utf-8")
            breaks = incompatible(load_contract(path), contract)
        if breaks:
            return "major", f"contract changed incompatibly since {name}: {'; '.join(breaks)}"
    primary = metrics["primary"]
    old_metrics = json.loads(show_file(commit, METRICS_FILE) or "{}").get("metrics", {})
    if primary in old_metrics:
        old, new = old_metrics[primary]["value"], metrics["metrics"][primary]["value"]
        better = new > old if direction(primary) == "higher" else new < old
        if better:
            return "minor", f"{primary} improved on {name}: {old:.4f} -> {new:.4f}"
        return "patch", f"{primary} did not improve on {name}: {old:.4f} -> {new:.4f}"
    return "patch", f"{name} has no recorded {primary} to compare with"


def bumped(version: str, kind: str) -> str:
    """`version` bumped by `kind` (major, minor or patch), with GTO's `v` prefix."""
    return getattr(SemVer(version), f"bump_{kind}")().version


def next_version(model: str, contract: Contract, metrics: dict[str, Any]) -> str:
    """The version registering a model with `metrics` now would make: the bump rule (see the
    module docstring) against the latest registered version."""
    previous = latest(model)
    if previous is None:
        return FIRST_VERSION
    return bumped(previous.version, choose_bump(previous, contract, metrics)[0])


def tag_message(
    model: str,
    version: str,
    reason: str,
    commit: str,
    gate: dict[str, Any],
    metrics: dict[str, Any],
    data: Path,
) -> str:
    """The registry entry, readable with `git tag -n99` and `gto show`."""
    # Each value is on its own line: one with a newline would add a line (a forged `model:`
    # line that core/modelfile.recorded_hash would read); check-config refuses such paths.
    for value in (model, version, reason, commit, gate["verdict"], data.as_posix()):
        if CONTROL.search(str(value)):
            raise RegistryError(f"not registered: {value!r} has a newline or control character")
    lines = [
        f"{model} {version}: {reason}",
        "",
        f"commit: {commit}",
        f"gate: {gate['verdict']}",
        f"data: {data.as_posix()} md5:{md5(data)}",
        f"model: {MODEL_FILE.as_posix()} md5:{md5(MODEL_FILE)} sha256:{sha256(MODEL_FILE)}",
        f"params: {PARAMS_FILE.as_posix()} sha256:{params_hash()}",
        f"metrics ({metrics.get('test_rows', '?')} test rows, primary {metrics['primary']}):",
    ]
    for name, entry in metrics["metrics"].items():
        lines.append(
            f"  {name}: {entry['value']:.4f} [{entry['ci_low']:.4f}, {entry['ci_high']:.4f}]"
        )
    accepted = gate.get("accepted_drop")
    if accepted:
        drops = ", ".join(f"{m} up to {drop:g}" for m, drop in accepted["metrics"].items())
        lines.append(f"accepted drop (gate.accept_drop) vs {accepted['champion']}: {drops}")
        lines.append(f"  reason: {accepted['reason']}")
    for leak in gate.get("leaks", []):
        if leak.get("acknowledged"):
            lines.append(f"acknowledged {leak['kind']}: {leak['column']} ({leak['score']})")
    return "\n".join(lines) + "\n"


def read_gate() -> dict[str, Any]:
    """reports/gate.json, which must say BLESSED."""
    if not GATE_FILE.exists():
        raise RegistryError(f"{GATE_FILE} not found: run `make gate` first")
    try:
        gate = json.loads(GATE_FILE.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RegistryError(f"{GATE_FILE} is not valid JSON ({error}): run `make gate`") from None
    verdict = gate.get("verdict") if isinstance(gate, dict) else None
    if verdict != "BLESSED":
        raise RegistryError(f"the gate did not bless this model ({GATE_FILE}: {verdict})")
    return gate


def check_judged(gate: dict[str, Any], data: Path) -> None:
    """Refuse a verdict that does not describe HEAD: see fingerprint.differences."""
    found = differences(gate.get("judged") or {}, fingerprints(data))
    if found:
        raise RegistryError(
            f"{GATE_FILE} does not describe HEAD ({'; '.join(found)}): run `make gate`"
        )


def check_on_branch(commit: str, branch: str) -> None:
    """Refuse a commit that is not on origin's `branch` (without origin there is nothing to ask)."""
    if not has_origin():
        return
    try:
        git("fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
    except GitError as failed:
        reason = one_line(failed.stderr)
        raise RegistryError(
            f"cannot fetch {branch!r} (params registry.branch) from origin: {reason}"
        ) from None
    try:
        git("merge-base", "--is-ancestor", commit, f"refs/remotes/origin/{branch}")
    except GitError:  # exit 1: not an ancestor
        raise RegistryError(
            f"{commit[:12]} is not on origin's {branch} (params registry.branch): only commits "
            f"pushed or merged there are registered"
        ) from None


def check_clean() -> None:
    """Refuse uncommitted changes to tracked files, and a pipeline whose outputs are stale."""
    changed = git("status", "--porcelain", "--untracked-files=no").strip()
    if changed:
        raise RegistryError(f"uncommitted changes; commit them first:\n{changed}")
    stale = subprocess.run(
        ["dvc", "status", "--quiet"], capture_output=True, text=True, check=False
    )
    if stale.returncode != 0:
        raise RegistryError(
            "the pipeline is not up to date (`dvc status`): run `make repro` and commit"
        )


def push_dvc() -> None:
    """Push DVC-tracked data and models to the default DVC remote, when one is configured."""
    if subprocess.run(["dvc", "remote", "default"], capture_output=True, check=False).returncode:
        print("register: no DVC remote configured; the model stays in the local DVC cache")
        return
    pushed = subprocess.run(["dvc", "push", "--quiet"], capture_output=True, text=True, check=False)
    if pushed.returncode != 0:
        lines = [line.strip() for line in pushed.stderr.splitlines() if line.strip()] or [""]
        reason = next((line for line in lines if line.startswith("ERROR")), lines[-1])
        raise RegistryError(f"`dvc push` failed, nothing was registered: {reason}")
    print("register: pushed data and model to the DVC remote")


def publish(make_tag: Callable[[], str | None], attempts: int = PUSH_ATTEMPTS) -> str | None:
    """Create a tag with `make_tag` and push it to origin, retrying when origin rejects the name.

    `make_tag` runs after the tags were fetched, so each attempt sees the others' tags; it returns
    the tag it created, or None when there is nothing to do.
    """
    for attempt in range(1, attempts + 1):
        fetch_tags()
        try:
            tag = make_tag()
        except GTOException as error:
            raise RegistryError(str(error)) from None
        if tag is None or not has_origin():
            return tag
        refused = push_tag(tag)
        if refused is None:
            return tag
        git("tag", "--delete", tag)
        if not origin_has(tag):
            raise RegistryError(f"origin refused {tag}: {refused}")
        print(f"register: origin already has {tag} (attempt {attempt}/{attempts}); retrying")
    raise RegistryError(f"could not push a tag to origin in {attempts} attempts")


def register(bump: str | None = None) -> str:
    """Register HEAD (see the module docstring); returns its version."""
    params, contract = load_params(), load_contract()
    model = params.registry.model
    commit = head()
    if commit is None:
        raise RegistryError("no commit to register: commit the project first")
    fetch_tags()
    existing = version_of(model, commit)
    if existing:
        print(f"register: {commit[:12]} is already {existing.tag}; nothing to do")
        return existing.version
    gate = read_gate()
    check_clean()
    check_judged(gate, params.data.raw)
    check_on_branch(commit, params.registry.branch)
    metrics = json.loads(METRICS_FILE.read_text(encoding="utf-8"))
    push_dvc()
    outcome: dict[str, str] = {}

    def make_tag() -> str | None:
        existing = version_of(model, commit)
        if existing:
            outcome["version"] = existing.version
            print(f"register: {commit[:12]} is already {existing.tag}; nothing to do")
            return None
        previous = latest(model)
        try:
            check_descends(previous, commit)
        except StepError as error:
            raise RegistryError(str(error)) from None
        if previous is None:
            version, reason = FIRST_VERSION, "first version"
        else:
            kind, reason = (
                (bump, f"--bump {bump}") if bump else choose_bump(previous, contract, metrics)
            )
            version = bumped(previous.version, kind)
        message = tag_message(model, version, reason, commit, gate, metrics, params.data.raw)
        gto.register(".", model, commit, version=version, message=message)
        outcome["version"] = version
        return f"{model}@{version}"

    tag = publish(make_tag)
    if tag:
        print(f"register: {tag} on {commit[:12]}" + (" (pushed to origin)" if has_origin() else ""))
    return outcome["version"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `register`."""
    parser.add_argument("--bump", choices=BUMPS, help="override the version bump rule")


def main(args: argparse.Namespace) -> int:
    """CLI entry: register HEAD as a new model version; exit 1 with the reason when refused."""
    try:
        register(args.bump)
    except RegistryError as error:
        print(f"register: refused: {error}", file=sys.stderr)
        return 1
    return 0
