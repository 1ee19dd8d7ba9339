"""The pull requests CI opens, always against the release branch (params.yaml registry.branch):
`retrain-pr`, `sweep-pr` and `template-update-pr`.

A pull request opened with the job's GITHUB_TOKEN starts no workflow (GitHub's rule against
loops), so pr.yml would never train, gate or comment it: the workflows pass the secret PR_TOKEN
when set (PR_TOKEN_SET=true) and each command warns loudly when they fall back to GITHUB_TOKEN.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from actions_mlops.core.config import load_params
from actions_mlops.github.shell import annotate, git, run, shown, tool
from actions_mlops.github.tree import conflicts, conflicts_message

NO_PR_TOKEN = (
    "no PR_TOKEN secret: this pull request is opened with GITHUB_TOKEN, so pr.yml will NOT run "
    "on it (no training, gate, report or comment; required checks wait forever). Add a "
    "fine-grained token as the repository secret PR_TOKEN (README: Repository settings, in "
    "order), or close and reopen the pull request to run pr.yml"
)
UPDATE_BODY = (
    "Merges the template's newer version (`make update`) into this project; your edits are kept."
)


def warn_without_pr_token() -> None:
    """In GitHub Actions without PR_TOKEN: the pull request will not be trained, said loudly."""
    if os.environ.get("GITHUB_ACTIONS") == "true" and os.environ.get("PR_TOKEN_SET") != "true":
        annotate("warning", "Pull request will not be trained", NO_PR_TOKEN)


def open_pull(head: str, title: str, body: Path) -> int:
    """`gh pr create` of `head` against the release branch; gh's output passed through."""
    if not body.is_file():
        print(f"pull request of {head} not opened: no {body} (its body)", file=sys.stderr)
        return 1
    warn_without_pr_token()
    base = load_params().registry.branch
    created = run(
        "gh", "pr", "create", "--base", base, "--head", head, "--title", title,
        "--body-file", str(body),
    )  # fmt: skip
    return shown(created).returncode


def retrain_pr(branch: str, reason: str) -> int:
    """Open the pull request of the retrain branch, the report as its body."""
    return open_pull(branch, f"Retrain: {reason}", Path("reports/report.md"))


def sweep_pr() -> int:
    """Branch the sweep's best experiment (reports/sweep.json, after sweep-rank) as
    sweep/<name>-<commit>, push it and open its pull request, the ranking as its body."""
    best = str(json.loads(Path("reports/sweep.json").read_text())[0]["name"])
    short = git("rev-parse", "--short", "HEAD").stdout.strip()
    branch = f"sweep/{best}-{short}"
    made = (tool("dvc"), "exp", "branch", best, branch)
    for command in (made, ("git", "push", "origin", branch)):
        done = shown(run(*command))
        if done.returncode:
            return done.returncode
    return open_pull(branch, f"Sweep: best params ({best})", Path("reports/sweep.md"))


def template_update_pr(branch: str) -> int:
    """Open the pull request of a template-update/<commit> branch, its conflicts listed."""
    body = UPDATE_BODY + "\n"
    found = conflicts()
    if found:
        body += (
            "\n**Conflicts to resolve on this branch** (the check `make template-conflicts` "
            f"fails until then):\n```\n{conflicts_message(found)}\n```\n"
        )
    folder = Path(tempfile.mkdtemp(prefix="template-update-", dir=os.environ.get("RUNNER_TEMP")))
    path = folder / "template-update.md"
    path.write_text(body, encoding="utf-8")
    title = f"Template update ({branch.removeprefix('template-update/')})"
    try:
        return open_pull(branch, title, path)
    finally:
        path.unlink()
        folder.rmdir()
