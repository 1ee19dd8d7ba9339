"""How the CI commands talk to the job and run programs: GitHub's annotations and step outputs,
and git, dvc, gh and cruft run with argument lists (never through a shell)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from actions_mlops.core.outputs import job_summary


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


def shown(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """A finished command's captured output passed on (its stdout to ours, its stderr to ours),
    and the command returned."""
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done


def tool(name: str) -> str:
    """A tool from PATH (make puts the project's environment first), else the one next to this
    Python."""
    found = shutil.which(name)
    return found or str(Path(sys.executable).parent / name)


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return run("git", *args)
