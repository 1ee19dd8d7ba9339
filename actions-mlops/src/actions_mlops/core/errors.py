"""The one error type a step raises to refuse: the CLI prints its message as one line."""

from __future__ import annotations


class StepError(Exception):
    """A reason a step refuses to go on, said in one line; the CLI exits with `exit_code`."""

    exit_code = 1
