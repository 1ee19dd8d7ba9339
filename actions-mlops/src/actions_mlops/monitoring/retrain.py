"""Retrain: put a refreshed pipeline run on a `retrain/...` branch for the ordinary PR gate.

Run after the data was refreshed and `make repro` ran. Commits dvc.lock and the reports on a
new branch, pushes data and models to the DVC remote (when one is configured) and the branch to
origin. It never touches `main`: the pull request, its gate, a review and the merge release the
model.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from actions_mlops.core.config import REPORTS
from actions_mlops.core.errors import StepError
from actions_mlops.core.git import GitError, git

TRACKED = ["dvc.lock", str(REPORTS), "params.yaml", "contract.yaml"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m actions_mlops retrain-branch`."""
    parser.add_argument("--reason", default="scheduled retraining", help="why (commit message)")
    parser.add_argument("--remote", default="origin", help="git remote to push the branch to")


def changed_files() -> list[str]:
    """Files of the pipeline's results that differ from HEAD (untracked reports included)."""
    status = git("status", "--porcelain", "--untracked-files=all", "--", *TRACKED)
    return [line[3:] for line in status.splitlines() if line]


def commit(branch: str, message: str, details: str) -> None:
    """Commit the staged results through the git hooks; a refusal names the hooks that failed."""
    try:
        git("commit", "-q", "-m", message, "-m", details)
    except GitError as refused:
        failed = [
            line.split("..", 1)[0]
            for line in refused.stderr.splitlines()
            if line.endswith("Failed")
        ]
        hooks = ", ".join(failed) or "a pre-commit hook"
        raise StepError(
            f"the git hooks refused the retraining commit on {branch} ({hooks}); the results "
            f"stay staged there: `git switch {branch}` and `.venv/bin/pre-commit run` show why"
        ) from None


def has_dvc_remote() -> bool:
    """Whether .dvc/config names a default remote."""
    result = subprocess.run(["dvc", "remote", "list"], capture_output=True, text=True, check=False)
    return bool(result.stdout.strip())


def main(args: argparse.Namespace) -> int:
    """CLI entry: commit the results on retrain/<time> and push it; no-op when nothing changed."""
    changed = changed_files()
    if not changed:
        print("retrain: dvc.lock and reports are unchanged: nothing to propose")
        return 0
    branch = f"retrain/{datetime.now(UTC):%Y%m%d-%H%M%S}"
    git("switch", "-c", branch)
    git("add", "--all", "--", *changed)
    commit(branch, f"Retrain: {args.reason}", "Changed: " + ", ".join(changed))
    if has_dvc_remote():
        subprocess.run(["dvc", "push"], check=True)
    git("push", "-q", args.remote, f"HEAD:refs/heads/{branch}")
    print(f"retrain: pushed {branch} ({len(changed)} changed files)")
    if os.environ.get("GITHUB_OUTPUT"):
        with Path(os.environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as output:
            output.write(f"branch={branch}\n")
    return 0
