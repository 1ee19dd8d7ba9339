"""`ci exp-push NAME` / `ci exp-pull`: `dvc exp push|pull` authenticated with the job's token.

actions/checkout (v6+) keeps its credentials in a file the repository's git config includes
through `includeIf`, which DVC's git library (dulwich, through scmrepo) does not read, so its
pushes went unauthenticated. scmrepo asks GIT_ASKPASS for a username and password when the
server answers 401: a throw-away askpass program answers from the environment, so the token is
neither written to a file nor on a command line.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from actions_mlops.github.shell import annotate, run, shown, tool

TOKEN_VARIABLE = "ACTIONS_MLOPS_GIT_TOKEN"
ASKPASS = f"""#!/bin/sh
case "$1" in
  Username*) echo x-access-token ;;
  *) printf '%s\\n' "${TOKEN_VARIABLE}" ;;
esac
"""


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
        result = shown(run(tool("dvc"), "exp", *args, env=env))
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
