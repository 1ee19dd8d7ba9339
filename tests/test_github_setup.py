"""`make github-setup` and `make github-doctor` (issue 27) against the `gh` stand-in
(tests/actions/bin/gh), which answers `gh api` as GitHub does for a repository's visibility and
its owner's plan: a private repository on Free has no environments and no rulesets; required
reviewers need a public repository or Enterprise. Fast: a bake, no act, no `make setup` (the
package runs from this checkout's source)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake, run

STANDINS = TEMPLATE / "tests" / "actions" / "bin"
SOURCE = TEMPLATE / "actions-mlops" / "src"
PUBLIC_FREE = {"visibility": "public", "owner": {"login": "me", "type": "User"}, "plan": "free"}
PRIVATE_FREE = PUBLIC_FREE | {"visibility": "private"}
PRIVATE_TEAM = PUBLIC_FREE | {"visibility": "private", "plan": "pro"}
ORGANISATION = {"visibility": "private", "owner": {"login": "acme", "type": "Organization"}}
ORGANISATION |= {"plan": "team"}
FRESH = {"settings": {"actions_can_create_pull_requests": False}}


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    """A project without a DVC remote and one with s3 (its workflows use `dvc-write`)."""
    root = tmp_path_factory.mktemp("bakes")
    return {
        remote: bake(root / remote, dvc_remote=remote, init_git="no") for remote in ("none", "s3")
    }


def platform(project: Path, state: Path, command: str):
    """`actions-mlops ci <command>` as `make github-...` runs it, `gh` being the stand-in."""
    import os

    env = {
        "PATH": f"{STANDINS}:{os.environ['PATH']}",
        "STANDIN_STATE": str(state),
        "GH_REPO": "me/churn-model",
        "PYTHONPATH": str(SOURCE),
    }
    command_line = [sys.executable, "-m", "actions_mlops", "ci", command]
    return run(command_line, project, check=False, env=env)


def fresh(tmp_path: Path, repository: dict, **more) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    store = FRESH | {"repository": repository, "user": {"login": "me", "id": 7}} | more
    (state / "github.json").write_text(json.dumps(store))
    return state


def stored(state: Path) -> dict:
    return json.loads((state / "github.json").read_text())


def lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_the_make_targets_are_these_commands(projects):
    makefile = (projects["none"] / "Makefile").read_text()
    for command in ("github-setup", "github-doctor"):
        assert f"\n{command}: ##" in makefile
        assert f"\n\t$(PLATFORM) ci {command}\n" in makefile


def test_public_free_setup_makes_everything_and_doctor_then_finds_nothing(projects, tmp_path):
    project = projects["s3"]
    state = fresh(tmp_path, PUBLIC_FREE, secrets=["PR_TOKEN"])
    before = platform(project, state, "github-doctor")
    assert before.returncode == 1, before.stdout + before.stderr
    problems = lines(before.stdout, "problem: ")
    assert len(problems) == 5, before.stdout  # permission, 2 rulesets, 2 environments
    assert any("environment prod has no required reviewers" in p for p in problems)
    assert any("no tag ruleset" in p for p in problems)

    made = platform(project, state, "github-setup")
    assert made.returncode == 0, made.stdout + made.stderr
    assert not lines(made.stdout, "cannot: ")
    github = stored(state)
    prod, write = github["environments"]["prod"], github["environments"]["dvc-write"]
    reviewers = [r for r in prod["protection_rules"] if r["type"] == "required_reviewers"]
    assert reviewers[0]["reviewers"] == [{"type": "User", "reviewer": {"id": 7}}]
    assert [p["name"] for p in write["branch_policies"]] == ["main"]
    assert not [r for r in write["protection_rules"] if r["type"] == "required_reviewers"]
    branch, tag = github["rulesets"]
    checks = branch["rules"][1]["parameters"]
    assert [c["context"] for c in checks["required_status_checks"]] == [
        "make check",
        "train, gate and report",
    ]
    assert checks["strict_required_status_checks_policy"] is True
    assert tag["conditions"]["ref_name"]["include"] == [
        "refs/tags/churn-model@v*",
        "refs/tags/churn-model#*",
    ]
    assert github["settings"]["actions_can_create_pull_requests"] is True
    assert "variables" not in github  # a public repository attests

    after = platform(project, state, "github-doctor")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "no problems" in after.stdout
    again = platform(project, state, "github-setup")  # idempotent: nothing made twice
    assert lines(again.stdout, "made: ") == [] and len(stored(state)["rulesets"]) == 2


def test_private_free_has_no_environments_nor_rulesets(projects, tmp_path):
    project = projects["none"]
    state = fresh(tmp_path, PRIVATE_FREE, secrets=["PR_TOKEN"])
    made = platform(project, state, "github-setup")
    assert made.returncode == 0, made.stdout + made.stderr
    cannot = lines(made.stdout, "cannot: ")
    assert len(cannot) == 3, made.stdout  # prod, and the two rulesets
    assert any("anyone with write access can move" in line for line in cannot)
    github = stored(state)
    assert "environments" not in github and "rulesets" not in github
    assert github["variables"] == {"ATTEST_PROVENANCE": "false"}
    after = platform(project, state, "github-doctor")
    assert after.returncode == 0, after.stdout + after.stderr
    assert len(lines(after.stdout, "limit: ")) == 3


def test_a_cloud_remote_on_private_free_is_refused_in_one_line(projects, tmp_path):
    """Issue 27 item 5: an s3/gs/azure remote is written with the `dvc-write` environment's
    credentials, which a private repository on Free cannot have. Setup and doctor fail on it,
    one line saying what to change (before: a `cannot:`/`limit:` line, exit 0)."""
    project = projects["s3"]
    state = fresh(tmp_path, PRIVATE_FREE, secrets=["PR_TOKEN"])
    made = platform(project, state, "github-setup")
    assert made.returncode == 1, made.stdout + made.stderr
    (refused,) = lines(made.stderr, "cannot: ")
    assert refused.startswith("cannot: environment dvc-write: a private repository on GitHub Free")
    assert "make the repository public, or move it to GitHub Pro" in refused
    assert len(lines(made.stdout, "cannot: ")) == 3  # the rest is made or explained as before
    assert stored(state)["variables"] == {"ATTEST_PROVENANCE": "false"}
    after = platform(project, state, "github-doctor")
    assert after.returncode == 1, after.stdout + after.stderr
    (problem,) = lines(after.stdout, "problem: ")
    assert "dvc-write" in problem and "no write access to the DVC remote" in problem
    assert len(lines(after.stdout, "limit: ")) == 3
    (tmp_path / "pro").mkdir()
    paid = fresh(tmp_path / "pro", PRIVATE_TEAM, secrets=["PR_TOKEN"])
    assert platform(project, paid, "github-setup").returncode == 0


@pytest.mark.parametrize("repository", [PRIVATE_TEAM, ORGANISATION], ids=["pro", "organisation"])
def test_private_paid_has_environments_without_reviewers(projects, tmp_path, repository):
    project = projects["none"]
    state = fresh(tmp_path, repository)
    made = platform(project, state, "github-setup")
    assert made.returncode == 0, made.stdout + made.stderr
    (cannot,) = lines(made.stdout, "cannot: ")
    assert "required reviewers on prod" in cannot and "Enterprise" in cannot
    github = stored(state)
    assert set(github["environments"]) == {"prod"}  # no dvc-write without a cloud remote
    assert [r["type"] for r in github["environments"]["prod"]["protection_rules"]] == [
        "branch_policy"
    ]
    assert len(github["rulesets"]) == 2
    after = platform(project, state, "github-doctor")
    assert after.returncode == 1  # only what setup cannot make: the PR_TOKEN secret
    (problem,) = lines(after.stdout, "problem: ")
    assert "secret PR_TOKEN is missing" in problem


def test_doctor_names_a_wrong_setup_and_disabled_schedules(projects, tmp_path):
    """A ruleset without the up-to-date rule, a prod whose deployments any branch may make, a
    scheduled workflow GitHub disabled, a public repository's private image: one line each."""
    project = projects["none"]
    state = fresh(tmp_path, PUBLIC_FREE, secrets=["PR_TOKEN"])
    assert platform(project, state, "github-setup").returncode == 0
    github = stored(state)
    github["rulesets"][0]["rules"][1]["parameters"]["strict_required_status_checks_policy"] = False
    github["environments"]["prod"]["branch_policies"] = []
    github["packages"] = {"churn-model": "private"}
    github["workflows"] = [
        {"name": "monitor", "path": ".github/workflows/monitor.yml", "state": "disabled_inactivity"}
    ]
    (state / "github.json").write_text(json.dumps(github))
    after = platform(project, state, "github-doctor")
    assert after.returncode == 1
    problems = lines(after.stdout, "problem: ")
    assert len(problems) == 4, after.stdout
    assert "strict_required_status_checks_policy is not True" in problems[0]
    assert "not limited to main" in problems[1]
    assert "monitor.yml is disabled_inactivity" in problems[2]
    assert "image ghcr.io/me/churn-model is private" in problems[3]


def test_refused_setting_is_one_line_and_exit_1(projects, tmp_path):
    """Where the plan is not readable (an organisation's plan needs its admin), setup tries and
    GitHub's own refusal is the line."""
    project = projects["none"]
    state = fresh(tmp_path, ORGANISATION, user={"login": "me", "id": 7, "admin": False})
    made = platform(project, state, "github-setup")
    assert made.returncode == 1
    (refused,) = lines(made.stderr, "refused: ")
    assert "environment prod" in refused and "required reviewers protection rule" in refused
