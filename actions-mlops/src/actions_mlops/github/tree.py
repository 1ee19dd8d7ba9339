"""The working tree's state in CI: `check-committed` (after make repro, the commit holds its
results), `template-conflicts` (a template update's unresolved overlaps) and `pull` (the DVC
remote's data and models, or what the local cache holds when there is no remote)."""

from __future__ import annotations

import os
import subprocess
import sys

from actions_mlops.core.config import load_params
from actions_mlops.core.outputs import job_summary
from actions_mlops.github.credentials import with_credentials
from actions_mlops.github.shell import git, run, tool

NO_REMOTE = (
    "make pull: no DVC remote in .dvc/config: checking out what the local DVC cache holds "
    "(e.g. restored by CI); make repro rebuilds the rest"
)
CONFLICT_MARKERS = "^(<<<<<<<|>>>>>>>)( |$)"
RESOLVE = (
    "keep what you need between the <<<<<<< / >>>>>>> markers (or apply the .rej hunks by "
    "hand), delete the markers and .rej files, then commit"
)


def check_committed() -> int:
    """After make repro: fail, with the diff and the fix, when the commit lacks its results."""
    changed = git("status", "--porcelain", "--untracked-files=all").stdout.rstrip("\n")
    if not changed:
        print("make check-committed: dvc.lock and the reports are as committed")
        return 0
    files = " ".join(line[3:] for line in changed.splitlines())
    fix = f"make repro && git add {files} && git commit -m 'Pipeline results'"
    branch = load_params().registry.branch
    why = (
        "make repro changed files the commit should hold: the committed dvc.lock and reports "
        f"are stale (release.yml would refuse this commit on {branch})"
    )
    diff = git("--no-pager", "diff", "--unified=1", "--", "dvc.lock").stdout.splitlines()[:40]
    lines = [
        f"make check-committed: {why}:",
        *(f"  {line}" for line in changed.splitlines()),
        git("--no-pager", "diff", "--stat").stdout.rstrip("\n"),
        *diff,
        f"fix: {fix}",
    ]
    print("\n".join(lines), file=sys.stderr)
    if os.environ.get("GITHUB_ACTIONS"):
        print(f"::error title=Stale pipeline results::{why}; fix: {fix}")
    job_summary(f"**Stale pipeline results**: {why}.\n\n```\n{changed}\n```\nFix: `{fix}`\n")
    return 1


def conflicts() -> list[str]:
    """Files with conflict markers (CSV data left out) and untracked .rej files."""
    marked = git("grep", "-lE", CONFLICT_MARKERS, "--", ":!*.csv").stdout.splitlines()
    rejected = git("ls-files", "--others", "--exclude-standard", "--", "*.rej").stdout
    return marked + rejected.splitlines()


def conflicts_message(found: list[str]) -> str:
    """What template-conflicts says about unresolved conflicts in `found`."""
    listed = "\n".join(f"  {path}" for path in found)
    return (
        "make template-conflicts: the template's update overlaps your edits in:\n"
        f"{listed}\n{RESOLVE}"
    )


def template_conflicts() -> int:
    """Fail, listing them, while conflicts with the template are unresolved."""
    found = conflicts()
    if found:
        print(conflicts_message(found), file=sys.stderr)
        return 1
    print("make template-conflicts: none")
    return 0


def pull() -> int:
    """`dvc pull --allow-missing` with the remote's credentials, or, with no remote,
    `dvc checkout --allow-missing` of what the local cache holds; DVC's output streamed."""
    dvc = tool("dvc")
    if not run(dvc, "remote", "list").stdout.strip():
        print(NO_REMOTE, flush=True)
        return subprocess.call([dvc, "checkout", "--allow-missing"])
    return with_credentials([dvc, "pull", "--allow-missing"])
