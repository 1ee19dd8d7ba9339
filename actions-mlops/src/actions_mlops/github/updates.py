"""`make update` and `ci template-update-branch`: cruft's merge of the template's newer version.

The branch is pushed as template-update/<commit>. A project without `.cruft.json` is skipped
with a notice; an update that changes `.github/workflows/` is refused before the push unless the
push token may write workflow files (GitHub refuses it for GITHUB_TOKEN: only a token with the
Workflows permission may).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from actions_mlops.github.shell import annotate, git, output, run, shown, tool
from actions_mlops.github.tree import template_conflicts

WORKFLOWS = ".github/workflows/"
WORKFLOW_TOKEN = (
    "GitHub lets only a token with the Workflows permission push workflow files, and "
    "GITHUB_TOKEN never has it: give the secret PR_TOKEN Workflows: read and write besides "
    "Contents and Pull requests (fine-grained token; a classic token: the `workflow` scope; a "
    "GitHub App: `workflows: write`), or run `make update` on your machine and push the branch"
)


def changed_files(under: str = "") -> list[str]:
    """Paths that differ from HEAD (untracked ones included), optionally under a folder."""
    status = git("status", "--porcelain", "--untracked-files=all", "--", under or ".")
    return sorted(line[3:].split(" -> ")[-1] for line in status.stdout.splitlines() if line)


def cruft_update(ref: str) -> bool:
    """cruft's three-way merge of the template's newer version, then uv.lock re-resolved
    against the merged pyproject.toml from this project's own lock; False when cruft failed."""
    command = [tool("cruft"), "update", "--skip-apply-ask", "--allow-untracked-files"]
    updated = run(
        *command,
        *(["--checkout", ref] if ref else []),
        env=dict(os.environ, ACTIONS_MLOPS_NO_GIT="1"),
    )
    if shown(updated).returncode:
        return False
    if git("cat-file", "-e", "HEAD:uv.lock").returncode == 0:
        git("checkout", "HEAD", "--", "uv.lock")
    Path("uv.lock.rej").unlink(missing_ok=True)
    if run(tool("uv"), "lock").returncode:
        print("uv.lock not re-locked: resolve pyproject.toml, then make lock", file=sys.stderr)
    return True


def update(ref: str) -> int:
    """`make update`: cruft's merge of the template's newer version into this working tree,
    uv.lock re-resolved, then the conflicts left to resolve listed (exit 1 while any)."""
    if not Path(".cruft.json").is_file():
        print(
            "make update: no .cruft.json: link this project to its template once: "
            "cruft link <template-url>",
            file=sys.stderr,
        )
        return 1
    if not cruft_update(ref):
        return 1
    return template_conflicts()


def template_update_branch(ref: str) -> int:
    """make update's result, conflicts included, on a pushed template-update/<commit> branch;
    the branch's name to $GITHUB_OUTPUT (nothing when there is nothing to propose)."""
    if not Path(".cruft.json").is_file():
        annotate(
            "notice",
            "Template updates not linked",
            "no .cruft.json (the project was made with plain cookiecutter): nothing to update "
            "from. Link it once: `cruft link <template-url>`, commit .cruft.json; "
            "template-update.yml then proposes each newer version",
        )
        return 0
    if not cruft_update(ref):
        return 1
    if git("diff", "--quiet", "HEAD", "--", ".cruft.json").returncode == 0:
        print("template-update-branch: already at the template's latest")
        return 0
    commit = str(json.loads(Path(".cruft.json").read_text())["commit"])[:12]
    branch = f"template-update/{commit}"
    if git("ls-remote", "--exit-code", "--heads", "origin", branch).returncode == 0:
        print(f"template-update-branch: {branch} is already proposed")
        return 0
    workflows = changed_files(WORKFLOWS)
    touched = f"the template's update changes {', '.join(workflows)}"
    if workflows and os.environ.get("PR_TOKEN_SET") != "true":
        annotate(
            "error",
            "Template update needs a token for workflow files",
            f"{touched}; {WORKFLOW_TOKEN}",
        )
        return 1
    for args in (
        ("switch", "-q", "-c", branch),
        ("add", "-A"),
        ("commit", "-q", "--no-verify", "-m", f"Template update to {commit}"),
    ):
        done = git(*args)
        if done.returncode:
            print(f"template-update-branch: git {args[0]} failed: {done.stderr}", file=sys.stderr)
            return 1
    pushed = git("push", "-q", "origin", branch)
    if pushed.returncode:
        refused = "workflow" in pushed.stderr
        why = f"{touched}; {WORKFLOW_TOKEN}" if refused else pushed.stderr.strip()
        annotate("error", "Template update not pushed", f"git push refused {branch}: {why}")
        return 1
    print(f"template-update-branch: pushed {branch}")
    output(branch=branch)
    return 0
