"""CI plumbing the workflows and the Makefile call as `actions-mlops ci <command>`: git, dvc, gh
and docker run with argument lists (no shell), GitHub's refusals said in one line with what to
change. Each command lives in the module of its kind, imported only when it runs:

- updates.py: `update`, `template-update-branch` (cruft's merge of the template's newer version);
- experiments.py: `exp-push`, `exp-pull` (DVC experiments authenticated with the job's token);
- publish.py: `release-state`, `model-changed`, `push-image`, `stage-image`, `github-release`,
  `environment-check`;
- alarms.py: `drift-issue`, `start-retrain`, `monitor-history`;
- pulls.py: `retrain-pr`, `sweep-pr`, `template-update-pr`;
- tree.py: `check-committed`, `template-conflicts`, `pull`;
- credentials.py: `with-credentials`; setup.py: `github-setup`, `github-doctor`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("update", "template-update-branch"):
        command = commands.add_parser(name, help="merge the template's newer version (cruft)")
        command.add_argument("--ref", default="", help="template branch, tag or commit")
    push = commands.add_parser("exp-push", help="push a DVC experiment with the job's token")
    push.add_argument("name", help="the experiment's name")
    commands.add_parser("exp-pull", help="fetch origin's DVC experiments with the job's token")
    commands.add_parser("release-state", help="HEAD's version tag and whether it is released")
    commands.add_parser("model-changed", help="is HEAD's model a new one to release?")
    push_image = commands.add_parser("push-image", help="push HEAD's version's image")
    push_image.add_argument("--image", required=True)
    stage_image = commands.add_parser("stage-image", help="move IMAGE:<stage> to a version")
    for name in ("image", "version", "stage"):
        stage_image.add_argument(f"--{name}", required=True)
    environment = commands.add_parser("environment-check", help="refuse an unprotected stage")
    environment.add_argument("stage", help="the stage, i.e. the environment's name")
    retrain = commands.add_parser("start-retrain", help="dispatch retrain.yml unless one is open")
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


def call(module: str, function: str, *names: str) -> Callable[[argparse.Namespace], int]:
    """A command: `function` of this part's `module`, given the parsed options `names`."""

    def command(args: argparse.Namespace) -> int:
        found = getattr(importlib.import_module(f"actions_mlops.github.{module}"), function)
        return int(found(*(getattr(args, name) for name in names)))

    return command


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "update": call("updates", "update", "ref"),
    "template-update-branch": call("updates", "template_update_branch", "ref"),
    "exp-push": call("experiments", "exp_push", "name"),
    "exp-pull": call("experiments", "exp_pull"),
    "release-state": call("publish", "release_state"),
    "model-changed": call("publish", "model_changed"),
    "push-image": call("publish", "push_image", "image"),
    "stage-image": call("publish", "stage_image", "image", "version", "stage"),
    "environment-check": call("publish", "environment_check", "stage"),
    "github-release": call("publish", "github_release"),
    "start-retrain": call("alarms", "start_retrain", "reason"),
    "drift-issue": call("alarms", "drift_issue"),
    "monitor-history": call("alarms", "monitor_history", "runs"),
    "github-setup": call("setup", "setup"),
    "github-doctor": call("setup", "doctor"),
    "check-committed": call("tree", "check_committed"),
    "template-conflicts": call("tree", "template_conflicts"),
    "pull": call("tree", "pull"),
    "with-credentials": call("credentials", "with_credentials", "argv"),
    "retrain-pr": call("pulls", "retrain_pr", "branch", "reason"),
    "sweep-pr": call("pulls", "sweep_pr"),
    "template-update-pr": call("pulls", "template_update_pr", "branch"),
}


def main(args: argparse.Namespace) -> int:
    return COMMANDS[args.command](args)
