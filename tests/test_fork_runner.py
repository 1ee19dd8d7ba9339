"""A pull request from a fork never reaches the repository's own runner or environment (issue 31,
item 10): on a persistent self-hosted runner, TRAINING_RUNNER and VENV would let its code run
in, and poison, the environment release.yml reuses. pr.yml's expressions are evaluated here
for a pull request from the repository itself and one from a fork."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import bake

EXPRESSION = re.compile(r"^\$\{\{(.*)\}\}$", re.S)
NAME = re.compile(r"'[^']*'|[A-Za-z_][\w.-]*")


def evaluate(text: str, context: dict[str, str]) -> str:
    """A GitHub expression of names, 'strings', ==, !=, &&, || and ! (what pr.yml uses), with
    GitHub's truthiness: a missing name is '' and '' is false."""
    found = EXPRESSION.match(str(text).strip())
    if not found:
        return str(text)

    def term(match: re.Match[str]) -> str:
        word = match.group(0)
        return word if word.startswith("'") else repr(context.get(word, ""))

    python = NAME.sub(term, found.group(1)).replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"!(?!=)", " not ", python)
    return str(eval(python, {}))  # noqa: S307  (our own workflow's expression, names replaced)


@pytest.fixture(scope="module")
def train_job(tmp_path_factory) -> tuple[dict, dict]:
    project = bake(tmp_path_factory.mktemp("fork"), init_git="no")
    pr = yaml.safe_load((Path(project) / ".github/workflows/pr.yml").read_text())
    return pr["env"], pr["jobs"]["train"]


@pytest.mark.parametrize(
    ("head", "runner", "venv", "setup"),
    [
        ("octo/model", "gpu-box", "/opt/venv", "False"),  # the repository's own branch
        ("mallory/model", "ubuntu-latest", ".venv", "True"),  # a fork
    ],
)
def test_a_fork_s_pull_request_gets_a_hosted_runner_and_its_own_venv(
    train_job, head, runner, venv, setup
):
    env, job = train_job
    context = {
        "github.repository": "octo/model",
        "github.event.pull_request.head.repo.full_name": head,
        "vars.TRAINING_RUNNER": "gpu-box",
        "vars.VENV": "/opt/venv",
    }
    assert evaluate(job["runs-on"], context) == runner
    context["env.VENV"] = evaluate(env["VENV"], context)
    assert context["env.VENV"] == venv
    setup_step = next(s for s in job["steps"] if "make-setup" in s.get("with", {}))
    assert evaluate(setup_step["with"]["make-setup"], context) == setup
