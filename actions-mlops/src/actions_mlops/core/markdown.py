"""Text that a client or a data file wrote, made inert before it reaches markdown a person reads
(monitor.md and the drift issue, the PR report, the model card).

`inert(text)` returns a code span: GitHub renders no link, image, HTML, emphasis, autolink or
heading inside one. What a code span alone does not stop is handled first: a newline or other
control character (it would end a table row or the span) is shown as its escape (`\\n`); an `@`
gets a zero-width space after it (GitHub links @-mentions even in escaped text, not in code,
but a value may leave the span through a backtick run, so the mention is broken as well); `|` is
escaped for a table cell (GitHub splits cells before it reads code spans); the fence is one
backtick longer than the longest run of backticks in the value.
"""

from __future__ import annotations

import re
from typing import Any

from actions_mlops.core.typed import CONTROL

BACKTICKS = re.compile(r"`+")
MAX_CHARS = 200


def _visible(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]  # "\n" -> "\\n", "\x1b" -> "\\x1b"


def inert(value: Any, table: bool = True, limit: int = MAX_CHARS) -> str:
    """`value` as a code span that renders as its text and nothing else (see the module);
    cut to `limit` characters with "…". `table`: escape `|` for a table cell."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = CONTROL.sub(_visible, text).replace("@", "@\u200b")
    if table:
        text = text.replace("|", "\\|")
    runs = [len(run) for run in BACKTICKS.findall(text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# What makes markdown of running text (not at a line's start): emphasis, code, links and images,
# HTML and autolinks, tables, strikethrough, entities.
MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>|!~&])")
AUTOLINK = re.compile(r"(?i)(://|www\.)")


def plain(value: Any, limit: int = 2 * MAX_CHARS) -> str:
    """`value` as escaped running text (for a sentence such as a gate check's reason, which
    names columns and values): markdown's active punctuation backslash-escaped, control
    characters shown as escapes, @-mentions and bare links broken by a zero-width space."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = CONTROL.sub(_visible, text)
    text = AUTOLINK.sub(lambda m: m.group()[:-1] + "\u200b" + m.group()[-1], text)
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", text).replace("@", "@\u200b")
