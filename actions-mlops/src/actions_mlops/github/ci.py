"""CI plumbing the workflows call as `actions-mlops ci <command>`: git, dvc and gh run with
argument lists (no shell), GitHub's refusals said in one line with what to change.

- `template-update-branch`: cruft's merge of the template's newer version on a pushed
  template-update/<commit> branch. A project without `.cruft.json` is skipped with a notice;
  an update that changes `.github/workflows/` is refused before the push unless the push token
  may write workflow files (GitHub refuses it for GITHUB_TOKEN: only a token with the Workflows
  permission may).
- `start-retrain`: dispatch retrain.yml on the release branch (params.yaml registry.branch)
  unless a retrain/... pull request is still open; a refused `gh pr list` (a job without
  `pull-requests: read` on a private repository) fails in one line instead of skipping the check.
- `environment-check STAGE`: promote.yml runs in the environment named after the stage, which
  GitHub creates on first use with no protection rules: on a public repository (where required
  reviewers exist on every plan) a stage environment without them is refused in one line.
- `exp-push NAME` / `exp-pull`: `dvc exp push|pull` authenticated with the job's token.
  actions/checkout (v6+) keeps its credentials in a file the repository's git config includes
  through `includeIf`, which DVC's git library (dulwich, through scmrepo) does not read, so its
  pushes went unauthenticated. scmrepo asks GIT_ASKPASS for a username and password when the
  server answers 401: a throw-away askpass program answers from the environment, so the token is
  neither written to a file nor on a command line.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from actions_mlops.core.outputs import job_summary

WORKFLOWS = ".github/workflows/"
TOKEN_VARIABLE = "ACTIONS_MLOPS_GIT_TOKEN"
ASKPASS = f"""#!/bin/sh
case "$1" in
  Username*) echo x-access-token ;;
  *) printf '%s\\n' "${TOKEN_VARIABLE}" ;;
esac
"""
WORKFLOW_TOKEN = (
    "GitHub lets only a token with the Workflows permission push workflow files, and "
    "GITHUB_TOKEN never has it: give the secret PR_TOKEN Workflows: read and write besides "
    "Contents and Pull requests (fine-grained token; a classic token: the `workflow` scope; a "
    "GitHub App: `workflows: write`), or run `make update` on your machine and push the branch"
)


def annotate(level: str, title: str, message: str) -> None:
    """One line for the log (GitHub's annotation in a workflow) and the job summary."""
    where = sys.stderr if level == "error" else sys.stdout
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::{level} title={title}::{message}", file=where)
    else:
        print(f"{title}: {message}", file=where)
    job_summary(f"**{title}**: {message}\n")


def output(**values: str) -> None:
    """Step outputs, when run in a workflow step."""
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.writelines(f"{key}={value}\n" for key, value in values.items())


def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command (never through a shell); its completed process, output captured (exit
    status 127 when the program is not installed, as a shell would say)."""
    try:
        return subprocess.run(
            list(command), capture_output=True, text=True, check=False, env=env or None
        )
    except FileNotFoundError:
        return subprocess.CompletedProcess(list(command), 127, "", f"{command[0]}: not found\n")


def tool(name: str) -> str:
    """A tool from PATH (make puts the project's environment first), else the one next to this
    Python."""
    found = shutil.which(name)
    return found or str(Path(sys.executable).parent / name)


@contextmanager
def token_environment() -> Iterator[dict[str, str]]:
    """The environment for a git client that reads no git config includes (dulwich): with
    GH_TOKEN set, GIT_ASKPASS names a program that answers `x-access-token` and the token
    (read from this environment), removed afterwards."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
    if not token:
        yield env
        return
    folder = Path(tempfile.mkdtemp(prefix="askpass-", dir=os.environ.get("RUNNER_TEMP")))
    try:
        program = folder / "askpass"
        program.write_text(ASKPASS)
        program.chmod(0o700)
        yield env | {"GIT_ASKPASS": str(program), TOKEN_VARIABLE: token}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def dvc_exp(*args: str) -> int:
    """`dvc exp <args>` with the job's token; DVC's own output passed through."""
    with token_environment() as env:
        result = run(tool("dvc"), "exp", *args, env=env)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    said = result.stdout + result.stderr
    if result.returncode and "authentication" in said.lower():
        token = "GH_TOKEN is set" if env.get("GIT_ASKPASS") else "no GH_TOKEN in the step's env"
        annotate(
            "error",
            "Experiments not authenticated",
            f"dvc exp {args[0]}: origin refused the credentials ({token}): pass the job's "
            "token as GH_TOKEN (contents: write to push, read to pull)",
        )
    return result.returncode


def exp_push(name: str) -> int:
    """Push experiment `name` to origin (its data too when a DVC remote is configured)."""
    remotes = run(tool("dvc"), "remote", "list").stdout.strip()
    return dvc_exp("push", *([] if remotes else ["--no-cache"]), "origin", name)


def exp_pull() -> int:
    """Fetch every experiment of origin (git refs only: the ranking reads their metrics)."""
    return dvc_exp("pull", "--no-cache", "origin")


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return run("git", *args)


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
    sys.stdout.write(updated.stdout)
    sys.stderr.write(updated.stderr)
    if updated.returncode:
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
    from actions_mlops.github.tree import template_conflicts

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


def start_retrain(reason: str) -> int:
    """Start retrain.yml on the release branch, unless a retrain pull request is open."""
    from actions_mlops.core.config import load_params

    listed = run(
        "gh", "pr", "list", "--state", "open", "--limit", "200", "--json", "number,headRefName"
    )
    if listed.returncode:
        said = (listed.stderr.strip().splitlines() or ["no answer"])[-1]
        annotate(
            "error",
            "Retraining not started",
            f"gh pr list failed ({said}): the job needs `pull-requests: read` to see "
            "whether a retrain pull request is open",
        )
        return 1
    open_ = [
        p["number"]
        for p in json.loads(listed.stdout or "[]")
        if str(p.get("headRefName", "")).startswith("retrain/")
    ]
    if open_:
        why = f"retrain pull request #{open_[0]} is still open: review or close it first"
        print(f"start-retrain: skipped: {why}")
        job_summary(f"Retraining not started: {why}.\n")
        return 0
    branch = load_params().registry.branch
    started = run("gh", "workflow", "run", "retrain.yml", "--ref", branch, "-f", f"reason={reason}")
    sys.stdout.write(started.stdout)
    sys.stderr.write(started.stderr)
    return started.returncode


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="command", required=True)
    for name, function in (("update", update), ("template-update-branch", template_update_branch)):
        command = commands.add_parser(name, help=function.__doc__)
        command.add_argument("--ref", default="", help="template branch, tag or commit")
    push = commands.add_parser("exp-push", help=exp_push.__doc__)
    push.add_argument("name", help="the experiment's name")
    commands.add_parser("exp-pull", help=exp_pull.__doc__)
    commands.add_parser("release-state", help="HEAD's version tag and whether it is released")
    commands.add_parser("model-changed", help="is HEAD's model a new one to release?")
    push_image = commands.add_parser("push-image", help="push HEAD's version's image")
    push_image.add_argument("--image", required=True)
    stage_image = commands.add_parser("stage-image", help="move IMAGE:<stage> to a version")
    for name in ("image", "version", "stage"):
        stage_image.add_argument(f"--{name}", required=True)
    environment = commands.add_parser("environment-check", help=environment_check.__doc__)
    environment.add_argument("stage", help="the stage, i.e. the environment's name")
    retrain = commands.add_parser("start-retrain", help=start_retrain.__doc__)
    retrain.add_argument("--reason", default="drift alarm")
    commands.add_parser("github-setup", help="make the repository's settings (your gh login)")
    commands.add_parser("github-doctor", help="check the repository's settings: a line a problem")
    commands.add_parser("github-release", help="create the GitHub Release of HEAD's version")
    commands.add_parser("check-committed", help="fail when make repro changed the commit's files")
    commands.add_parser("template-conflicts", help="fail while template conflicts are unresolved")
    commands.add_parser("pull", help="dvc pull with the remote's credentials (no remote: checkout)")
    credentials = commands.add_parser("with-credentials", help="run a command with the DVC "
                                      "remote's credentials made for it")  # fmt: skip
    credentials.add_argument("argv", nargs=argparse.REMAINDER, help="the command and its args")
    commands.add_parser("drift-issue", help="open or update the model-drift issue")
    history = commands.add_parser("monitor-history", help="download monitor.yml's recent reports")
    history.add_argument("--runs", type=int, default=60, help="how many runs back (default 60)")
    retrain_pr = commands.add_parser("retrain-pr", help="open the retrain branch's pull request")
    retrain_pr.add_argument("--branch", required=True)
    retrain_pr.add_argument("--reason", default="refreshed data")
    commands.add_parser("sweep-pr", help="branch, push and propose the sweep's best experiment")
    update_pr = commands.add_parser("template-update-pr", help="open a template update's PR")
    update_pr.add_argument("--branch", required=True)


def _subcommands() -> dict[str, Callable[[argparse.Namespace], int]]:
    """The commands of the other modules of this part, each imported when it runs."""

    def call(module: str, function: str, *names: str) -> Callable[[argparse.Namespace], int]:
        def command(args: argparse.Namespace) -> int:
            found = getattr(importlib.import_module(f"actions_mlops.github.{module}"), function)
            return int(found(*(getattr(args, name) for name in names)))

        return command

    return {
        "github-release": call("publish", "github_release"),
        "check-committed": call("tree", "check_committed"),
        "template-conflicts": call("tree", "template_conflicts"),
        "pull": call("tree", "pull"),
        "with-credentials": call("credentials", "with_credentials", "argv"),
        "drift-issue": call("alarms", "drift_issue"),
        "monitor-history": call("alarms", "monitor_history", "runs"),
        "retrain-pr": call("pulls", "retrain_pr", "branch", "reason"),
        "sweep-pr": call("pulls", "sweep_pr"),
        "template-update-pr": call("pulls", "template_update_pr", "branch"),
    }


SUBCOMMANDS = _subcommands()


def main(args: argparse.Namespace) -> int:
    if args.command in ("release-state", "model-changed", "push-image", "stage-image"):
        from actions_mlops.github import publish

        if args.command == "model-changed":
            return publish.model_changed()
        if args.command == "release-state":
            return publish.release_state()
        if args.command == "push-image":
            return publish.push_image(args.image)
        return publish.stage_image(args.image, args.version, args.stage)
    if args.command in ("github-setup", "github-doctor"):
        from actions_mlops.github import setup

        return setup.setup() if args.command == "github-setup" else setup.doctor()
    if args.command in SUBCOMMANDS:
        return SUBCOMMANDS[args.command](args)
    if args.command == "template-update-branch":
        return template_update_branch(args.ref)
    if args.command == "update":
        return update(args.ref)
    if args.command == "exp-push":
        return exp_push(args.name)
    if args.command == "environment-check":
        return environment_check(args.stage)
    if args.command == "start-retrain":
        return start_retrain(args.reason)
    return exp_pull()
