"""Publishing a registered version on GitHub: whether HEAD's version has its GitHub Release, its
image pushed (`:latest` only for the latest version), a stage's image tag moved, and
`environment-check`: promote.yml runs in the environment named after the stage, which GitHub
creates on first use with no protection rules, so on a public repository (where required
reviewers exist on every plan) a stage environment without them is refused in one line. docker
and gh run with argument lists; the Makefile's targets are one command each."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from actions_mlops.core.config import load_params
from actions_mlops.core.outputs import job_summary
from actions_mlops.github.shell import annotate, output, run, shown, tool
from actions_mlops.release import versions
from actions_mlops.release.versions import head_version, latest

REPO_DIGESTS = "{{range .RepoDigests}}{{println .}}{{end}}"


def docker(*args: str) -> int:
    """docker with these arguments; its output passed through, its exit status returned."""
    done = run(tool("docker"), *args)
    print(done.stdout, end="")
    print(done.stderr, end="")
    return done.returncode


def model_changed() -> int:
    """changed=true|false to $GITHUB_OUTPUT: is HEAD's model a new one to release? (A commit
    older than the latest version is refused in one line.)"""
    registry = load_params().registry
    changed, why = versions.model_changed(registry.model, registry.branch)
    value = str(changed).lower()
    print(f"make model-changed: {why}")
    output(changed=value)
    job_summary(f"Model changed: **{value}**: {why}\n")
    return 0


def release_state() -> int:
    """HEAD's version tag and whether its GitHub Release exists, to $GITHUB_OUTPUT."""
    head = head_version(load_params().registry.model)
    tag = head.tag if head else ""
    released = bool(tag) and run("gh", "release", "view", tag).returncode == 0
    print(f"make release-state: tag={tag or 'none'} released={str(released).lower()}")
    version = tag.split("@v", 1)[1] if tag else ""
    output(tag=tag, version=version, released=str(released).lower())
    return 0


def push_image(image: str) -> int:
    """Push IMAGE:<X.Y.Z> of HEAD's version, and IMAGE:latest when it is the latest version;
    the digest the registry reports for it to $GITHUB_OUTPUT (the attestation's subject)."""
    model = load_params().registry.model
    head = head_version(model)
    if head is None:
        annotate("error", "No version", "HEAD has no version tag: make register first")
        return 1
    version = head.version.removeprefix("v")
    if docker("push", "--quiet", f"{image}:{version}"):
        return 1
    newest = latest(model)
    if newest is not None and newest.tag == head.tag:
        if docker("push", "--quiet", f"{image}:latest"):
            return 1
    else:
        print(f"make push-image: :latest stays with {newest.tag if newest else '?'}, newer")
    inspected = run(tool("docker"), "image", "inspect", "--format", REPO_DIGESTS,
                    f"{image}:{version}")  # fmt: skip
    pattern = re.compile(rf"^{re.escape(image)}@(sha256:[0-9a-f]{{64}})$")
    digests = [m[1] for line in inspected.stdout.splitlines() if (m := pattern.match(line))]
    if not digests:
        why = f"the engine reports no registry digest for {image}:{version}"
        annotate("error", "No digest", why)
        return 1
    print(f"make push-image: pushed {image}:{version}, registry digest {digests[0]}")
    output(image=image, digest=digests[0])
    return 0


def stage_image(image: str, version: str, stage: str) -> int:
    """Move IMAGE:<stage> to VERSION's image (pulled, tagged, pushed; nothing rebuilt)."""
    number = version.removeprefix("v")
    source, target = f"{image}:{number}", f"{image}:{stage}"
    pulled = run(tool("docker"), "pull", "--quiet", source)
    if pulled.returncode:
        print(pulled.stderr, end="")
        return 1
    if docker("tag", source, target) or docker("push", "--quiet", target):
        return 1
    print(f"make stage-image: {target} is now {source}")
    return 0


def github_release() -> int:
    """Create the GitHub Release of HEAD's version with the files in release/ (the model card,
    when there is one, as its notes)."""
    head = head_version(load_params().registry.model)
    if head is None:
        print("make github-release: HEAD has no version tag: make register first", file=sys.stderr)
        return 1
    notes = Path("release/model-card.md")
    folder = Path("release")
    files = sorted(str(p) for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    created = run(
        "gh", "release", "create", head.tag, "--verify-tag", "--title", head.tag,
        "--notes-file", str(notes) if notes.is_file() else os.devnull, *files,
    )  # fmt: skip
    return shown(created).returncode


def environment_check(stage: str) -> int:
    """Refuse a promotion whose environment has no required reviewers where GitHub offers them
    (public repositories; private ones need GitHub Enterprise: warned, not refused)."""
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    private = os.environ.get("REPOSITORY_PRIVATE") == "true"
    answer = run("gh", "api", f"repos/{repo}/environments/{stage}")
    if answer.returncode and "404" not in answer.stderr:
        said = (answer.stderr.strip().splitlines() or ["no answer"])[-1]
        annotate("warning", "Environment not checked", f"environment {stage}: {said}")
        return 0
    rules = [] if answer.returncode else json.loads(answer.stdout).get("protection_rules") or []
    if any(rule.get("type") == "required_reviewers" for rule in rules):
        print(f"environment-check: {stage} has required reviewers")
        return 0
    where = f"Settings -> Environments -> {stage} -> Required reviewers"
    if private:
        annotate(
            "warning",
            "Promotion without approval",
            f"environment {stage} has no required reviewers: on a private repository they "
            "need GitHub Enterprise, so no person approves this promotion; limit who may "
            f"run promote.yml (write access) or make the repository public ({where})",
        )
        return 0
    annotate(
        "error",
        "Promotion needs an approval",
        f"environment {stage} has no required reviewers (GitHub creates a missing "
        f"environment unprotected on first use), so this promotion would need no "
        f"approval: add them in {where}, then run it again",
    )
    return 1
