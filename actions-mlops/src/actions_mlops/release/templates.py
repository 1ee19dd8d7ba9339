"""The PR report and the model card are Jinja templates a project can override.

The platform's templates live in the package (`actions_mlops/templates/`); a project's
`templates/` folder comes first, so `templates/model-card.md.j2` replaces the platform's
model card. An override usually extends the platform's template and fills its blocks:

    {% extends "actions_mlops/model-card.md.j2" %}
    {% block intended_use %}Who uses this model, for what, and what not.{% endblock %}

The sections (tables, verdicts, charts) are computed by the code and reach a template as
markdown text already made inert (core/markdown.py); the template arranges them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

PROJECT_TEMPLATES = Path("templates")


def environment() -> jinja2.Environment:
    """The project's templates first, then the platform's (also as `actions_mlops/<name>`)."""
    platform = jinja2.PackageLoader("actions_mlops", "templates")
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader(PROJECT_TEMPLATES),
            jinja2.PrefixLoader({"actions_mlops": platform}),
            platform,
        ]
    )
    return jinja2.Environment(
        loader=loader,
        autoescape=False,  # markdown, from sections the code made inert
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render(name: str, **context: Any) -> str:
    """Template `name` (the project's when it has one) rendered with `context`."""
    return environment().get_template(name).render(**context)
