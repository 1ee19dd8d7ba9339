"""Git: the one function that runs git for the package, and the few questions the steps ask it.

`git()` raises GitError (a StepError: the CLI prints it as one line, exit 1) when git fails.
The queries answer "nothing" (None, False) for what may legitimately be missing: a file or a
revision that is not committed, a remote that is not configured, a folder that is not a git
repository yet; any other failure of git raises.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from actions_mlops.core.errors import StepError


class GitError(StepError):
    """git failed: the command and git's first line of complaint; the full output is kept."""

    def __init__(self, args: tuple[str, ...], returncode: int, stderr: str) -> None:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        reason = lines[0] if lines else f"exit status {returncode}"
        super().__init__(f"git {' '.join(args)} failed: {reason}")
        self.returncode = returncode
        self.stderr = stderr


def git(*args: str) -> str:
    """Run git in the current directory; its standard output (GitError when it fails)."""
    try:
        result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GitError(args, 127, "git is not installed (not found on PATH)") from None
    if result.returncode != 0:
        raise GitError(args, result.returncode, result.stderr)
    return result.stdout


def in_repository() -> bool:
    """Whether the current directory is inside a git work tree."""
    try:
        return git("rev-parse", "--is-inside-work-tree").strip() == "true"
    except GitError:
        return False


def _object(name: str) -> str | None:
    """The object id `name` resolves to; None when it resolves to nothing or there is no repo."""
    try:
        return git("rev-parse", "--verify", "--quiet", "--end-of-options", name).strip()
    except GitError as error:
        if error.returncode == 1 or not in_repository():
            return None
        raise


def commit_of(rev: str) -> str | None:
    """The commit `rev` (a branch, tag or sha) names; None when it names none."""
    return _object(rev + "^{commit}")


def show_file(rev: str, path: Path) -> str | None:
    """`path` (relative to the repository's root) as committed at `rev`; None when not there."""
    blob = _object(f"{rev}:{path.as_posix()}")
    return None if blob is None else git("cat-file", "blob", blob)


def head() -> str | None:
    """HEAD's commit; None before the first commit or outside a git repository."""
    return commit_of("HEAD")


def is_clean() -> bool:
    """Whether tracked files are unchanged since HEAD (untracked files do not count)."""
    return not git("status", "--porcelain", "--untracked-files=no").strip()


def remote_url(name: str = "origin") -> str | None:
    """The URL of a git remote; None when there is no remote of that name."""
    try:
        return git("remote", "get-url", name).strip()
    except GitError as error:
        if error.returncode == 2 or not in_repository():  # 2: no such remote
            return None
        raise


def is_ancestor(ancestor: str, commit: str) -> bool:
    """Whether `ancestor` is `commit` or one of its ancestors."""
    try:
        git("merge-base", "--is-ancestor", ancestor, commit)
    except GitError as error:
        if error.returncode == 1:  # 1: not an ancestor; anything else is a real failure
            return False
        raise
    return True
