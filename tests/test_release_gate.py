"""The gate as a release sees it, on baked projects pushed to a bare `origin` (that every task
and example is BLESSED and registers its first version is checked by test_generated): a
BLESSED verdict does not register a model swapped after it, nor a commit that is not on
origin's main."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import bake, make, run

MAKE_ERROR = re.compile(r"make(\[\d+\])?: \*\*\*")
pytestmark = pytest.mark.slow
MODEL = "churn-model"  # the default project's slug, the registry's model name
FIRST = f"{MODEL}@v0.1.0"


def git(project: Path, *args: str) -> str:
    return run(["git", *args], project).stdout.strip()


def origin_tags(project: Path) -> set[str]:
    listing = git(project, "ls-remote", "--tags", "origin")
    return {line.split("refs/tags/")[1] for line in listing.splitlines() if "^{}" not in line}


def refusal(result) -> str:
    """The one line `register` wrote to stderr (make's own error line aside)."""
    # make's own "make: ***" ("make[1]: ***" when run under another make) is not the message.
    lines = [line for line in result.stderr.splitlines() if not MAKE_ERROR.match(line)]
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def released(tmp_path_factory, project_env) -> Callable[[str, str], tuple[Path, object]]:
    """(project, result of `make register`) for a task and data set, baked once per module: the
    pipeline run, committed, pushed to a bare origin's main, gated, then registered."""
    made: dict[tuple[str, str], tuple[Path, object]] = {}

    def release(task: str, dataset: str) -> tuple[Path, object]:
        if (task, dataset) not in made:
            root = tmp_path_factory.mktemp(f"{task}-{dataset}")
            project = bake(root, task=task, dataset=dataset)
            for key, value in (("user.email", "t@example.com"), ("user.name", "T")):
                git(project, "config", key, value)
            make(project, "repro", project_env)
            git(project, "add", "-A")
            git(project, "commit", "-qm", "first model")
            git(root, "init", "-q", "--bare", "-b", "main", "origin.git")
            git(project, "remote", "add", "origin", str(root / "origin.git"))
            git(project, "push", "-q", "origin", "main")
            gate = make(project, "gate", project_env, check=False)
            assert "gate: BLESSED" in gate.stdout, gate.stdout
            made[task, dataset] = project, make(project, "register", project_env, check=False)
        return made[task, dataset]

    return release


def test_a_blessed_verdict_does_not_register_a_model_swapped_after_it(released, project_env):
    """Gate BLESSED, then the estimator becomes a DummyClassifier (roc_auc 0.5), repro, commit,
    push: register refuses the stale verdict; a new gate says NOT_BLESSED."""
    project, _ = released("classification", "breast_cancer")
    assert "gate: BLESSED" in make(project, "gate", project_env).stdout
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["model"] = {"estimator": "sklearn.dummy.DummyClassifier", "params": {}}
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    make(project, "repro", project_env)
    git(project, "commit", "-qam", "a dummy model")
    git(project, "push", "-q", "origin", "main")

    line = refusal(make(project, "register", project_env, check=False))
    assert line.startswith("register: refused: reports/gate.json does not describe HEAD")
    assert "models/model.skops differs" in line and "params.yaml differs" in line
    assert line.endswith("run `make gate`")
    assert git(project, "tag", "--list", f"{MODEL}@*") == FIRST
    assert origin_tags(project) == {FIRST}

    gate = make(project, "gate", project_env, check=False)
    assert gate.returncode != 0 and "gate: NOT_BLESSED" in gate.stdout
    assert "roc_auc 0.5000 < floor 0.8" in gate.stdout
    assert "did not bless" in refusal(make(project, "register", project_env, check=False))
    assert origin_tags(project) == {FIRST}


def test_register_refuses_a_commit_that_is_not_on_origins_main(released, project_env):
    project, _ = released("classification", "wine")
    git(project, "switch", "-q", "-c", "experiment")
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\nAn experiment.\n")
    git(project, "commit", "-qam", "an experiment")
    head = git(project, "rev-parse", "HEAD")
    assert "gate: BLESSED" in make(project, "gate", project_env).stdout
    for pushed in (False, True):  # a branch of origin other than main does not count either
        if pushed:
            git(project, "push", "-q", "origin", "experiment")
        line = refusal(make(project, "register", project_env, check=False))
        assert line.startswith(f"register: refused: {head[:12]} is not on origin's main")
    assert origin_tags(project) == {FIRST}
    assert git(project, "tag", "--points-at", "HEAD") == ""
