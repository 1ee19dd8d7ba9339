"""What github.com refuses and act's stand-ins used to accept (issue 27), step by step: each
test runs a rendered workflow's step as GitHub would (tests/test_workflow_steps.py's
`run_step`) against a stand-in that refuses what GitHub refuses:

- an origin served over smart HTTP on 127.0.0.1 (tests/actions/gitserver.py) that wants the job's
  token, kept where actions/checkout (v6+) keeps it (a config file the repository's config
  includes through `includeIf`), and refuses workflow-file pushes without the Workflows
  permission, with GitHub's own message;
- the `gh` stand-in with the job's `permissions:` and a private repository's visibility.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake, run
from test_template_update import NO_GIT, commit, edit, snapshot
from test_workflow_steps import find, run_step, store, stored, workflow

sys.path.insert(0, str(TEMPLATE / "tests" / "actions"))
import gitserver  # noqa: E402

GITHUB_TOKEN = "ghs_standin"  # run_step's github.token
PR_TOKEN = "github_pat_contents_only"
WORKFLOW_PAT = "github_pat_with_workflows"
TOKENS = {
    GITHUB_TOKEN: {"contents"},
    PR_TOKEN: {"contents"},
    WORKFLOW_PAT: {"contents", "workflows"},
}


def with_origin(project: Path, root: Path, url: str, token: str, temp: Path) -> None:
    """The project's main pushed to a served origin, then its credentials kept as
    actions/checkout keeps them: the job's clone, as a workflow sees it."""
    bare = gitserver.bare(root, "origin")
    # The owner's first push, from their machine (their token may write workflow files).
    owner = {"STANDIN_WORKFLOWS": "true"}
    run(["git", "push", "-q", str(bare), "HEAD:refs/heads/main"], project, env=owner)
    run(["git", "remote", "remove", "origin"], project, check=False)
    run(["git", "remote", "add", "origin", f"{url}/origin.git"], project)
    run(["git", "fetch", "-q", str(bare), "+refs/heads/*:refs/remotes/origin/*"], project)
    gitserver.persist_credentials(project, url, token, temp)


def pushes(log: list[dict]) -> list[dict]:
    return [entry for entry in log if entry["method"] == "POST" and entry["push"]]


# Item 1: template-update.yml


def test_template_update_without_cruft_json_is_a_notice(tmp_path):
    """A project made with plain cookiecutter has no .cruft.json: the weekly run says so in one
    notice and stays green (it failed every week)."""
    project = bake(tmp_path / "bake", init_git="yes")
    assert not (project / ".cruft.json").exists()
    step = find(project, "template-update.yml", "update", "branch")
    contexts = {"inputs.ref": "", "secrets.PR_TOKEN != ''": "false"}
    outcome = run_step(project, step, tmp_path / "run", contexts)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    (notice,) = outcome.annotations("notice")
    assert "no .cruft.json" in notice and "cruft link" in notice
    assert outcome.outputs == {}
    pr = find(project, "template-update.yml", "update", "make template-update-pr")
    assert pr["if"] == "${{ steps.branch.outputs.branch != '' }}"


@pytest.mark.slow
def test_a_template_update_of_workflow_files_needs_the_workflows_permission(tmp_path):
    """The template changes a workflow file. With GITHUB_TOKEN (no PR_TOKEN) the update is
    refused before any push, in one line naming the permission; with a PR_TOKEN that lacks it,
    GitHub's refusal of the push becomes that line; with the permission, the branch is pushed."""
    template = snapshot(tmp_path)
    cruft = str(Path(sys.prefix) / "bin" / "cruft")
    run([cruft, "create", "--no-input", str(template)], tmp_path, env=NO_GIT, timeout=300)
    project = tmp_path / "churn-model"
    run(["git", "init", "-q", "-b", "main"], project)
    commit(project, "Baked with cruft")
    promote = template / "{{cookiecutter.project}}" / ".github" / "workflows" / "promote.yml"
    edit(promote, "name: promote\n", "name: promote\n# A template fix.\n")
    commit(template, "A workflow fix")

    step = find(project, "template-update.yml", "update", "branch")
    with gitserver.serving(tmp_path / "served", TOKENS) as (url, log):
        with_origin(project, tmp_path / "served", url, GITHUB_TOKEN, tmp_path)
        cases = [
            (GITHUB_TOKEN, "false", 1),
            (PR_TOKEN, "true", 1),
            (WORKFLOW_PAT, "true", 0),
        ]
        for token, pr_token_set, status in cases:
            gitserver.persist_credentials(project, url, token, tmp_path)
            before = len(pushes(log))
            contexts = {"inputs.ref": "main", "secrets.PR_TOKEN != ''": pr_token_set}
            outcome = run_step(project, step, tmp_path / token, contexts)
            said = outcome.stdout + outcome.stderr
            assert (outcome.returncode != 0) == bool(status), (token, said[-3000:])
            if status:
                (error,) = outcome.annotations("error") or [
                    line for line in outcome.stderr.splitlines() if line.startswith("::error")
                ]
                assert ".github/workflows/promote.yml" in error and "Workflows" in error, error
                assert "PR_TOKEN" in error
                refs = run(
                    ["git", "for-each-ref", "refs/heads"], tmp_path / "served" / "origin.git"
                )
                assert "template-update/" not in refs.stdout
            else:
                assert outcome.outputs["branch"].startswith("template-update/"), said
            if token == GITHUB_TOKEN:  # refused before pushing anything
                assert len(pushes(log)) == before, log[before:]
            run(["git", "checkout", "-q", "-f", "main"], project)
            run(["git", "clean", "-qfd"], project)
            for branch in run(
                ["git", "branch", "--format=%(refname:short)"], project
            ).stdout.split():
                if branch != "main":
                    run(["git", "branch", "-q", "-D", branch], project)
    pushed = f"{outcome.outputs['branch']}:.github/workflows/promote.yml"
    shown = run(["git", "show", pushed], tmp_path / "served" / "origin.git")
    assert "# A template fix." in shown.stdout


# Item 2: sweep.yml's experiments reach origin with the job's token.


@pytest.mark.slow
def test_sweep_experiments_push_and_pull_with_the_jobs_token(tmp_path):
    """The origin wants the job's token, kept where actions/checkout keeps it: git reads it,
    DVC's git library (dulwich) does not. make sweep-point pushes its experiment and make
    sweep-rank, in another clone, pulls and ranks it."""
    project = bake(tmp_path / "bake", init_git="yes")
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=U", "-c", "user.email=u@e.com", "commit", "-qm", "main"], project)
    point = find(project, "sweep.yml", "run", "make sweep-point")
    rank = find(project, "sweep.yml", "rank", "make sweep-rank")
    for job in ("run", "rank"):
        checkout = workflow(project, "sweep.yml")["jobs"][job]["steps"][0]
        assert checkout["with"]["persist-credentials"] is False, job
    served = tmp_path / "served"
    served.mkdir()
    with gitserver.serving(served, {GITHUB_TOKEN: {"contents"}}) as (url, log):
        with_origin(project, served, url, GITHUB_TOKEN, tmp_path)
        env = {"POINT": "0", "GIT_AUTHOR_NAME": "U", "GIT_AUTHOR_EMAIL": "u@e.com",
               "GIT_COMMITTER_NAME": "U", "GIT_COMMITTER_EMAIL": "u@e.com"}  # fmt: skip
        outcome = run_step(project, point, tmp_path / "point", env=env)
        said = outcome.stdout + outcome.stderr
        assert outcome.returncode == 0, said[-4000:]
        refs = run(["git", "for-each-ref", "refs/exps"], served / "origin.git").stdout
        assert len(refs.splitlines()) == 1, (refs, said[-3000:])
        # dulwich asks unauthenticated first, then (401) with the token GIT_ASKPASS gave it.
        assert {entry["token"] for entry in pushes(log)} == {None, GITHUB_TOKEN}, log

        clone = tmp_path / "rank"
        header = ["-c", f"http.extraheader=AUTHORIZATION: basic {basic(GITHUB_TOKEN)}"]
        run(["git", *header, "clone", "-q", f"{url}/origin.git", str(clone)], tmp_path)
        gitserver.persist_credentials(clone, url, GITHUB_TOKEN, tmp_path)
        outcome = run_step(clone, rank, tmp_path / "rank-run")
        said = outcome.stdout + outcome.stderr
        assert outcome.returncode == 0, said[-4000:]
        assert (clone / "reports" / "sweep.md").read_text().count("| sweep-0") == 1


def basic(token: str) -> str:
    import base64

    return base64.b64encode(f"x-access-token:{token}".encode()).decode()


# Item 3: monitor.yml on a private repository.


def test_start_retrain_sees_open_pull_requests_on_a_private_repository(tmp_path):
    """On a private repository `gh pr list` needs `pull-requests: read`; without it the check
    for an open retrain pull request was skipped silently and a second retraining started."""
    project = bake(tmp_path / "bake", init_git="no")
    monitor = workflow(project, "monitor.yml")["jobs"]["monitor"]
    step = find(project, "monitor.yml", "monitor", "make start-retrain")
    pulls = [{"number": 5, "head": "retrain/20261202-0617", "state": "open"}]
    store(tmp_path, pulls=pulls)
    private = {
        "STANDIN_JOB_PERMISSIONS": json.dumps(monitor["permissions"]),
        "STANDIN_VISIBILITY": "private",
    }
    outcome = run_step(project, step, tmp_path, {"github.run_id": "1"}, env=private)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert stored(tmp_path)["dispatches"] == [], "a second retraining while #5 is open"
    assert "#5 is still open" in outcome.stdout

    # A job without the scope fails in one line instead of starting a retraining.
    denied = private | {"STANDIN_JOB_PERMISSIONS": json.dumps({"actions": "write"})}
    outcome = run_step(project, step, tmp_path / "denied", {"github.run_id": "1"}, env=denied)
    assert outcome.returncode != 0 and stored(tmp_path)["dispatches"] == []
    (error,) = [line for line in outcome.stderr.splitlines() if line.startswith("::error")]
    assert "pull-requests: read" in error


def test_start_retrain_dispatches_on_the_release_branch(tmp_path):
    project = bake(tmp_path / "bake", init_git="no")
    params = project / "params.yaml"
    text = params.read_text()
    assert "branch: main" in text
    params.write_text(text.replace("branch: main", "branch: release", 1))
    step = find(project, "monitor.yml", "monitor", "make start-retrain")
    store(tmp_path)
    outcome = run_step(project, step, tmp_path, {"github.run_id": "1"})
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    (dispatch,) = stored(tmp_path)["dispatches"]
    assert dispatch["ref"] == "release" and dispatch["inputs"]["reason"].startswith("drift")


# Item 11: retrain.yml's gate compares paired.


@pytest.mark.parametrize("remote", ["none", "s3"])
def test_the_retraining_gate_gets_the_token(tmp_path, remote):
    project = bake(tmp_path, init_git="no", dvc_remote=remote)
    gate = find(project, "retrain.yml", "retrain", "make gate")
    env = gate.get("env") or {}
    assert env.get("GH_TOKEN") == "${{ github.token }}", "make gate without GH_TOKEN"
    pull = set(find(project, "retrain.yml", "retrain", "make pull").get("env") or {})
    assert pull <= set(env), sorted(pull - set(env))


# Items 4 and 5: promotion without approval.


def test_promotion_to_an_unprotected_prod_environment_is_refused_where_github_offers_reviewers(
    tmp_path,
):
    """promote.yml names its environment after the stage; GitHub creates a missing one on first
    use with no protection rules. On a public repository (required reviewers on every plan) prod
    without reviewers is refused in one line; on a private one (reviewers need Enterprise) it is
    warned; with reviewers it passes."""
    project = bake(tmp_path / "bake", init_git="no")
    step = find(project, "promote.yml", "promote", "make environment-check")
    assert step["if"] == "${{ inputs.stage == 'prod' }}"
    names = [s.get("name", s.get("uses", "")) for s in workflow(project, "promote.yml")["jobs"]
             ["promote"]["steps"]]  # fmt: skip
    assert names.index("make environment-check") < names.index("make promote")
    contexts = {"inputs.stage": "prod", "github.event.repository.private": "false"}
    env = {"GITHUB_REPOSITORY": "example-org/churn-model"}

    store(tmp_path / "public")
    outcome = run_step(project, step, tmp_path / "public", contexts, env)
    assert outcome.returncode != 0
    (error,) = [line for line in outcome.stderr.splitlines() if line.startswith("::error")]
    assert "environment prod has no required reviewers" in error and "Environments" in error

    private = contexts | {"github.event.repository.private": "true"}
    store(tmp_path / "private")
    outcome = run_step(project, step, tmp_path / "private", private, env)
    assert outcome.returncode == 0, outcome.stderr
    (warning,) = outcome.annotations("warning")
    assert "Enterprise" in warning

    protected = {"prod": {"name": "prod", "protection_rules": [{"type": "required_reviewers"}]}}
    store(tmp_path / "protected", environments=protected)
    outcome = run_step(project, step, tmp_path / "protected", contexts, env)
    assert outcome.returncode == 0 and not outcome.annotations("warning"), outcome.stderr


# Item 12: the attestation's storage record.


def test_the_attestation_job_may_write_its_artifact_metadata(tmp_path):
    project = bake(tmp_path, init_git="no")
    permissions = workflow(project, "release.yml")["jobs"]["publish"]["permissions"]
    assert permissions["attestations"] == "write" and permissions["id-token"] == "write"
    assert permissions.get("artifact-metadata") == "write"


# Item 12: the release branch is params.yaml registry.branch, not a hard-coded main.


def test_pull_requests_open_against_the_release_branch(tmp_path):
    """With registry.branch: release (and release.yml running on it), the retraining and
    template-update pull requests are opened against `release`; they were against main."""
    project = bake(tmp_path / "bake", init_git="yes")
    edit(project / "params.yaml", "branch: main", "branch: release")
    release = project / ".github" / "workflows" / "release.yml"
    edit(release, "branches: [main]", "branches: [release]")
    commit(project, "Release from the release branch")
    (project / "reports").mkdir(exist_ok=True)
    (project / "reports" / "report.md").write_text("The model report.\n")
    origin = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    run(["git", "remote", "add", "origin", str(origin)], project)
    heads = ("release", "retrain/20261207-2300", "template-update/0123456789ab")
    run(["git", "push", "-q", "origin", *(f"HEAD:refs/heads/{head}" for head in heads)], project)
    tokens = {"secrets.PR_TOKEN || github.token": "github_pat_x", "secrets.PR_TOKEN != ''": "true"}
    for name, job, head in (
        ("retrain.yml", "retrain", heads[1]),
        ("template-update.yml", "update", heads[2]),
    ):
        step = find(project, name, job, f"make {name.removesuffix('.yml')}-pr")
        state = tmp_path / name
        store(state)
        contexts = tokens | {"steps.branch.outputs.branch": head}
        outcome = run_step(project, step, state, contexts, {"REASON": "drift alarm"})
        assert outcome.returncode == 0, outcome.stdout + outcome.stderr
        (pull,) = stored(state)["pulls"]
        assert (pull["base"], pull["head"]) == ("release", head), pull
        assert not outcome.annotations("warning"), outcome.stdout
