"""The generated workflows' own logic, run step by step without act: each test takes one step
of a rendered workflow, gives it the environment GitHub would (its `env:` with the expressions
replaced by the values of a simulated event), runs its `run:` script with the shell GitHub uses
(`bash --noprofile --norc -eo pipefail`) in a baked project, with the `gh` stand-in of the act
day (tests/actions/bin/gh) on PATH, and reads its outputs, job summary and annotations. The
workflow's order and conditions (which step runs after which, with what `if:`) are checked
statically on the same YAML. Covers issue 17's items 1, 2, 3, 5, 7, 8, 10, 11, 12 and 13; the
act day (tests/test_github.py) runs the same files end to end.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE, bake, run

BIN = Path(sys.executable).parent
GH = TEMPLATE / "tests" / "actions" / "bin"
BOT = {"login": "github-actions[bot]", "type": "Bot"}
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("steps"), init_git="yes")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("steps-s3"), dvc_remote="s3", init_git="no")


def workflow(project: Path, name: str) -> dict:
    return yaml.safe_load((project / ".github" / "workflows" / name).read_text())


def steps(project: Path, name: str, job: str) -> list[dict]:
    return workflow(project, name)["jobs"][job]["steps"]


def find(project: Path, name: str, job: str, label: str) -> dict:
    """The step whose id, name or `uses` is (or, for `uses`, starts with) label."""
    for step in steps(project, name, job):
        if label in (step.get("id"), step.get("name")) or step.get("uses", "").startswith(label):
            return step
    raise AssertionError(f"{name} {job}: no step {label!r}")


def index(project: Path, name: str, job: str, label: str) -> int:
    return steps(project, name, job).index(find(project, name, job, label))


class Outcome:
    """What a step left behind: exit status, output, $GITHUB_OUTPUT, $GITHUB_ENV, summary."""

    def __init__(self, result: subprocess.CompletedProcess[str], files: dict[str, Path]):
        self.returncode, self.stdout, self.stderr = result.returncode, result.stdout, result.stderr
        self.outputs = dict(
            line.split("=", 1) for line in files["output"].read_text().splitlines() if "=" in line
        )
        self.env = dict(
            line.split("=", 1) for line in files["env"].read_text().splitlines() if "=" in line
        )
        self.summary = files["summary"].read_text()

    def annotations(self, level: str) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith(f"::{level}")]


def run_step(
    project: Path,
    step: dict,
    tmp: Path,
    contexts: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Run one step's script as GitHub would; `contexts` give the values of the expressions its
    `env:` reads (e.g. {"github.token": "ghs_x"}); an expression without a value is an error."""
    contexts = {"github.token": "ghs_standin", **(contexts or {})}

    def value_of(match: re.Match) -> str:
        assert match[1] in contexts, f"no value for the expression {match[1]}"
        return contexts[match[1]]

    declared = step.get("env") or {}
    step_env = {name: EXPRESSION.sub(value_of, str(value)) for name, value in declared.items()}
    tmp.mkdir(parents=True, exist_ok=True)
    files = {kind: tmp / f"github-{kind}" for kind in ("output", "env", "summary")}
    for path in files.values():
        path.write_text("")
    full_env = {
        "PATH": f"{GH}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", str(tmp)),
        "STANDIN_STATE": str(tmp),
        "RUNNER_TEMP": str(tmp),
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(files["output"]),
        "GITHUB_ENV": str(files["env"]),
        "GITHUB_STEP_SUMMARY": str(files["summary"]),
        "VENV": sys.prefix,
        **step_env,
        **(env or {}),
    }
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=project,
        env=full_env,
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )
    return Outcome(result, files)


def store(tmp: Path, **data) -> None:
    empty = {"comments": [], "releases": {}, "issues": [], "pulls": [], "dispatches": []}
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "github.json").write_text(json.dumps(empty | data))


def stored(tmp: Path) -> dict:
    return json.loads((tmp / "github.json").read_text())


# Item 5: pr-comment.yml trusts the pull request's own head, and only its own comment.


def comment_artifact(project: Path, tmp: Path, number: str) -> Path:
    folder = tmp / "model-report"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pr-number").write_text(f"{number}\n")
    (folder / "report.md").write_text(f"<!-- {project.name}-model-report -->\nThe report.\n")
    return folder


def comment_contexts(folder: Path, head_sha: str) -> dict[str, str]:
    return {
        "github.repository": "example-org/churn-model",
        "runner.temp": str(folder.parent),
        "github.event.workflow_run.head_sha": head_sha,
    }


def test_pr_comment_refuses_an_artifact_naming_another_pull_request(project, tmp_path):
    """A fork's pr run uploads an artifact claiming pull request #8 (not its own): the head of
    #8 is not the commit that run built, so nothing is posted or edited anywhere."""
    step = find(project, "pr-comment.yml", "comment", "Create or update the comment")
    marker = f"<!-- {project.name}-model-report -->"
    victim = {"id": 1, "issue": 8, "body": f"{marker}\nThe real report of #8.", "user": BOT}
    pulls = [
        {"number": 8, "head": "feature", "head_sha": "8" * 40, "state": "open"},
        {"number": 9, "head": "fork:main", "head_sha": "f" * 40, "state": "open"},
    ]
    store(tmp_path, comments=[victim], pulls=pulls)
    folder = comment_artifact(project, tmp_path, "8")
    outcome = run_step(project, step, tmp_path, comment_contexts(folder, "f" * 40))
    assert outcome.returncode == 1, outcome.stdout + outcome.stderr
    assert any("#8" in line for line in outcome.annotations("error")), outcome.stdout
    assert stored(tmp_path)["comments"] == [victim]


def test_pr_comment_edits_only_its_own_marker_comment(project, tmp_path):
    """Anyone can write the marker into a comment: the workflow creates its own comment next to
    a stranger's, then updates its own, never the stranger's."""
    step = find(project, "pr-comment.yml", "comment", "Create or update the comment")
    marker = f"<!-- {project.name}-model-report -->"
    stranger = {"id": 1, "issue": 7, "body": f"{marker}\nfake", "user": {"login": "mallory"}}
    head = "a" * 40
    store(tmp_path, comments=[stranger], pulls=[{"number": 7, "head": "b", "head_sha": head}])
    folder = comment_artifact(project, tmp_path, "7")
    for _ in range(2):
        outcome = run_step(project, step, tmp_path, comment_contexts(folder, head))
        assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    comments = stored(tmp_path)["comments"]
    assert comments[0] == stranger
    assert [c["user"]["login"] for c in comments] == ["mallory", "github-actions[bot]"]
    assert comments[1]["body"].startswith(marker) and "The report." in comments[1]["body"]
    calls = [json.loads(line) for line in (tmp_path / "github-api.jsonl").read_text().splitlines()]
    methods = [(c["method"], c["path"].rsplit("/", 1)[-1]) for c in calls]
    assert methods == [
        ("GET", "7"),
        ("GET", "comments"),
        ("POST", "comments"),
        ("GET", "7"),
        ("GET", "comments"),
        ("PATCH", str(comments[1]["id"])),
    ], methods


# Item 7: a run without a report, and pull requests without access to the DVC remote.


def test_pr_comment_tolerates_a_missing_artifact(project, tmp_path):
    download = find(project, "pr-comment.yml", "comment", "actions/download-artifact")
    assert download.get("continue-on-error") is True and download.get("id") == "download"
    comment = find(project, "pr-comment.yml", "comment", "comment")
    assert comment["if"] == "${{ steps.download.outcome == 'success' }}"
    notice = find(project, "pr-comment.yml", "comment", "No report to post")
    assert notice["if"] == "${{ steps.download.outcome == 'failure' }}"
    outcome = run_step(project, notice, tmp_path)
    assert outcome.returncode == 0 and outcome.annotations("notice"), outcome.stdout
    assert "no model-report artifact" in outcome.summary


def test_a_pull_request_without_remote_access_is_rebuilt_with_a_warning(cloud, tmp_path):
    pull = find(cloud, "pr.yml", "train", "pull")
    assert pull.get("continue-on-error") is True, "a fork's failed make pull stops the job"
    warn = find(cloud, "pr.yml", "train", "Warn when the DVC remote cannot be read")
    assert warn["if"] == "${{ steps.pull.outcome == 'failure' }}"
    order = [index(cloud, "pr.yml", "train", s) for s in ("pull", warn["name"], "make repro")]
    assert order == sorted(order)
    for step in steps(cloud, "pr.yml", "train"):
        if "oidc-token" in step.get("run", ""):  # forks get no OIDC token either
            assert step.get("continue-on-error") is True, step["name"]
    outcome = run_step(cloud, warn, tmp_path)
    assert outcome.returncode == 0
    (warning,) = outcome.annotations("warning")
    assert "forks and Dependabot" in warning and "make repro rebuilds" in warning
    assert "make pull failed" in outcome.summary


# Item 3: the gate in CI can fetch the champion's model, and says how it compared.


@pytest.mark.parametrize("name,job", [("pr.yml", "train"), ("release.yml", "register")])
def test_the_gate_gets_the_token_and_the_remotes_credentials(cloud, project, name, job):
    for baked in (project, cloud):
        gate = find(baked, name, job, "gate")
        env = gate.get("env") or {}
        assert env.get("GH_TOKEN") == "${{ github.token }}", f"{name}: make gate without GH_TOKEN"
        pull_env = set(find(baked, name, job, "make pull").get("env") or {})
        assert pull_env <= set(env), f"{name}: make gate lacks {sorted(pull_env - set(env))}"
        comparison = find(baked, name, job, "make gate-comparison")
        assert comparison["if"] == "${{ !cancelled() && steps.gate.outcome != 'skipped' }}"
        assert index(baked, name, job, "gate") < index(baked, name, job, "make gate-comparison")


def gate_report(comparison: str, reason: str) -> dict:
    champion = {"model": "churn-model", "version": "v0.1.0", "commit": "c" * 40}
    return {
        "verdict": "BLESSED",
        "blessed": True,
        "champion": champion | {"tag": "churn-model@v0.1.0", "model_source": None, "metrics": {}},
        "notes": [],
        "comparison": comparison,
        "comparison_reason": reason,
        "checks": [],
    }


def test_gate_comparison_is_loud_unless_paired(project, tmp_path):
    step = find(project, "pr.yml", "train", "make gate-comparison")
    gate = project / "reports" / "gate.json"
    gate.parent.mkdir(exist_ok=True)
    why = "the model of churn-model@v0.1.0 is not available from DVC or its GitHub Release"
    gate.write_text(json.dumps(gate_report("recorded", why)))
    outcome = run_step(project, step, tmp_path / "recorded")
    assert outcome.returncode == 0, outcome.stderr
    (warning,) = outcome.annotations("warning")
    assert why in warning
    assert "**recorded, not paired**" in outcome.summary and why in outcome.summary

    gate.write_text(json.dumps(gate_report("paired", "both models scored on the same rows")))
    outcome = run_step(project, step, tmp_path / "paired")
    assert outcome.returncode == 0 and not outcome.annotations("warning"), outcome.stdout
    assert "Champion comparison: **paired**" in outcome.summary


def test_the_report_says_how_the_gate_compared(project):
    """The report (the PR comment and the job summary) carries the comparison line."""
    reports = project / "reports"
    reports.mkdir(exist_ok=True)
    entry = {"value": 0.9, "ci_low": 0.85, "ci_high": 0.95}
    metrics = {"primary": "roc_auc", "test_rows": 10, "metrics": {"roc_auc": entry}}
    (reports / "metrics.json").write_text(json.dumps(metrics))
    why = "the model of churn-model@v0.1.0 is not available from DVC or its GitHub Release"
    (reports / "gate.json").write_text(json.dumps(gate_report("recorded", why)))
    package = project.name.replace("-", "_")
    env = {"PYTHONPATH": str(project / "src"), "GITHUB_BASE_REF": ""}
    run([sys.executable, "-m", package, "report"], project, env=env)
    text = (reports / "report.md").read_text()
    assert f"**recorded, not paired**: {why}" in text


# Item 12: monitoring that is not configured says so; labels reach make monitor; one retrain
# pull request at a time.


def test_monitor_without_a_batch_command_is_not_configured(project, tmp_path):
    check = find(project, "monitor.yml", "configured", "check")
    outcome = run_step(project, check, tmp_path / "none", env={"MONITOR_BATCH_COMMAND": ""})
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.outputs == {"configured": "false"}
    assert outcome.annotations("warning") and "NOT CONFIGURED" in outcome.summary
    outcome = run_step(project, check, tmp_path / "set", env={"MONITOR_BATCH_COMMAND": "true"})
    assert outcome.outputs == {"configured": "true"} and not outcome.summary
    monitor = workflow(project, "monitor.yml")["jobs"]["monitor"]
    assert monitor["needs"] == "configured"
    assert monitor["if"] == "${{ needs.configured.outputs.configured == 'true' }}"
    assert 'LABELS="$MONITOR_LABELS"' in find(project, "monitor.yml", "monitor", "monitor")["run"]


def test_start_retrain_waits_while_a_retrain_pull_request_is_open(project, tmp_path):
    step = find(project, "monitor.yml", "monitor", "make start-retrain")
    contexts = {"github.run_id": "1"}
    pulls = [
        {"number": 3, "head": "feature", "state": "open"},
        {"number": 4, "head": "retrain/20261201-0617", "state": "closed"},
    ]
    store(tmp_path, pulls=pulls)
    outcome = run_step(project, step, tmp_path, contexts)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert [d["workflow"] for d in stored(tmp_path)["dispatches"]] == ["retrain.yml"]

    pulls.append({"number": 5, "head": "retrain/20261202-0617", "state": "open"})
    store(tmp_path, pulls=pulls)
    outcome = run_step(project, step, tmp_path, contexts)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert stored(tmp_path)["dispatches"] == []
    assert "#5 is still open" in outcome.stdout and "#5" in outcome.summary


# Item 13: the image is named after the repository's owner, in lower case.


def test_image_name_comes_from_the_repository_owner(project, tmp_path):
    step = find(project, "release.yml", "publish", "Image name from the repository owner")
    contexts = {"github.repository_owner": "New-Owner"}
    outcome = run_step(project, step, tmp_path, contexts, env={"IMAGE_REGISTRY": "ghcr.io"})
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.env == {"IMAGE": f"ghcr.io/new-owner/{project.name}"}
    assert index(project, "release.yml", "publish", step["name"]) < index(
        project, "release.yml", "publish", "make containerize"
    )


# Item 8: nothing that can fail comes after the push but the Release; the attestation may fail.


def test_attestation_is_non_fatal_and_after_the_release(project, tmp_path):
    def at(label: str) -> int:
        return index(project, "release.yml", "publish", label)

    attest = find(project, "release.yml", "publish", "actions/attest-build-provenance")
    assert attest.get("continue-on-error") is True and attest["id"] == "attest"
    assert at("make package") < at("make release-artifacts") < at("make push-image")
    assert at("make containerize") < at("make push-image")
    assert at("make push-image") + 1 == at("make github-release"), "a step between push and release"
    assert at("make github-release") < at("actions/attest-build-provenance")
    warn = find(project, "release.yml", "publish", "Warn when the attestation failed")
    assert warn["if"] == "${{ steps.attest.outcome == 'failure' }}"
    outcome = run_step(project, warn, tmp_path)
    assert outcome.returncode == 0 and "public repository" in outcome.annotations("warning")[0]


# Item 11 (part): a merge that leaves the model file unchanged registers nothing.


def test_release_registers_only_a_changed_model(project):
    register = workflow(project, "release.yml")["jobs"]["register"]
    changed = "${{ steps.changed.outputs.changed == 'true' }}"
    for label in ("gate", "make register"):
        assert find(project, "release.yml", "register", label)["if"] == changed, label
    assert index(project, "release.yml", "register", "changed") < index(
        project, "release.yml", "register", "gate"
    )
    publish = workflow(project, "release.yml")["jobs"]["publish"]
    assert "needs.register.outputs.tag != ''" in publish["if"]
    assert "tag" in register["outputs"]


def test_make_model_changed_compares_with_the_latest_versions_hash(project, tmp_path):
    step = find(project, "release.yml", "register", "changed")
    model = project / "models" / "model.skops"
    model.parent.mkdir(exist_ok=True)
    model.write_bytes(b"the first model")
    outcome = run_step(project, step, tmp_path / "none")
    assert outcome.outputs == {"changed": "true"}, outcome.stdout + outcome.stderr

    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    run([*git, "commit", "-q", "--allow-empty", "-m", "first"], project)
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    md5 = hashlib.md5(model.read_bytes()).hexdigest()  # noqa: S324 (as registry.py records)
    message = f"v0.1.0: first version\n\nmodel: models/model.skops md5:{md5} sha256:{digest}\n"
    run([*git, "tag", "-a", f"{project.name}@v0.1.0", "-m", message], project)
    outcome = run_step(project, step, tmp_path / "same")
    assert outcome.outputs == {"changed": "false"}, outcome.stdout + outcome.stderr
    assert f"{project.name}@v0.1.0" in outcome.summary

    model.write_bytes(b"a retrained model")
    outcome = run_step(project, step, tmp_path / "other")
    assert outcome.outputs == {"changed": "true"}, outcome.stdout + outcome.stderr


# Item 1: retrain.yml commits through the git hooks `make setup` installs on the runner.
# Item 2: its pull request is opened with PR_TOKEN, so pr.yml runs on it; with GITHUB_TOKEN it
# is not (GitHub starts no workflow for it), and the step says so loudly.

NO_PR_TOKEN = {"secrets.PR_TOKEN || github.token": "ghs_standin", "secrets.PR_TOKEN != ''": "false"}
PR_TOKEN = {"secrets.PR_TOKEN || github.token": "github_pat_x", "secrets.PR_TOKEN != ''": "true"}


def git_in(project: Path, *args: str) -> str:
    return run(["git", *args], project).stdout.strip()


@pytest.fixture(scope="module")
def hooked(tmp_path_factory) -> Path:
    """A project as a runner has it after checkout and `make setup`: its .venv (here: a link to
    the tests' environment, which holds the same pinned tools) and the git hooks installed by
    make setup's own command, the first commit pushed to a bare origin."""
    tmp = tmp_path_factory.mktemp("retrain")
    project = bake(tmp, init_git="yes")
    (project / ".venv").symlink_to(sys.prefix)
    hook = [
        line.strip()
        for line in (project / "Makefile").read_text().splitlines()
        if "pre-commit install" in line
    ]
    assert hook == ["@if [ -d .git ]; then $(BIN)/pre-commit install; fi"], hook
    run([str(BIN / "pre-commit"), "install"], project)
    params = project / "params.yaml"
    text = re.sub(r"^    n_estimators: \d+", "    n_estimators: 40", params.read_text(), flags=re.M)
    params.write_text(re.sub(r"^(\s+resamples:) \d+", r"\1 200", text, flags=re.M))
    for key, value in (("user.email", "dev@example.com"), ("user.name", "Dev")):
        git_in(project, "config", key, value)
    git_in(project, "add", "-A")
    git_in(project, "commit", "-q", "-m", "Initial project")  # through the hooks too
    origin = tmp / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp)
    git_in(project, "remote", "add", "origin", str(origin))
    git_in(project, "push", "-q", "origin", "main")
    return project


@pytest.mark.slow
def test_retrain_commits_through_the_hooks_and_its_pull_request_is_trained(hooked, tmp_path):
    """Every `run:` step of retrain.yml in order, as on a runner with the hooks installed: the
    commit of dvc.lock and the reports (after a gate whose verdict names the champion's commit)
    passes the hooks; the pull request opened with PR_TOKEN queues the pull_request event that
    runs pr.yml, the one opened with GITHUB_TOKEN queues nothing and warns."""
    job = workflow(hooked, "retrain.yml")["jobs"]["retrain"]
    env = {"REASON": "drift alarm", "MONITOR_BATCH_COMMAND": ""}
    contexts = {"github.actor": "octocat", **PR_TOKEN}
    state = tmp_path / "with-token"
    store(state)
    outcomes = {}
    for step in job["steps"]:
        if "run" not in step or step["name"] == "make setup":  # VENV: an existing environment
            continue
        outcome = run_step(hooked, step, state, contexts, env=env)
        outcomes[step["name"]] = outcome
        if step.get("id") == "branch":
            contexts["steps.branch.outputs.branch"] = outcome.outputs.get("branch", "")
        assert outcome.returncode == 0 or step.get("continue-on-error"), (
            f"{step['name']} failed:\n{outcome.stdout[-3000:]}\n{outcome.stderr[-3000:]}"
        )
    branch = contexts["steps.branch.outputs.branch"]
    assert branch.startswith("retrain/"), outcomes["make retrain-branch"].stdout
    committed = git_in(hooked, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert "dvc.lock" in committed and "reports/metrics.json" in committed, committed
    assert "reports/gate.json" not in committed and "reports/report.md" not in committed
    assert git_in(hooked, "status", "--porcelain") == "", "the hooks left changes behind"
    head = git_in(hooked, "rev-parse", "HEAD")
    pushed = git_in(hooked, "ls-remote", "origin", f"refs/heads/{branch}").split()[0]
    assert pushed == head

    (pull,) = stored(state)["pulls"]
    assert pull["head"] == branch and pull["head_sha"] == head
    (event,) = stored(state)["events"]
    assert event == {"event": "pull_request", "action": "opened", "number": pull["number"]} | {
        "base": "main",
        "head": branch,
        "head_sha": head,
    }
    assert not outcomes["make retrain-pr"].annotations("warning")

    # The same pull request opened with the job's GITHUB_TOKEN: no workflow runs on it.
    fallback = tmp_path / "github-token"
    store(fallback)
    step = find(hooked, "retrain.yml", "retrain", "make retrain-pr")
    outcome = run_step(hooked, step, fallback, contexts | NO_PR_TOKEN, env=env)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert len(stored(fallback)["pulls"]) == 1 and stored(fallback)["events"] == []
    (warning,) = outcome.annotations("warning")
    assert "will NOT run" in warning and "PR_TOKEN" in warning
    assert "Pull request will not be trained" in outcome.summary

    # A new repository forbids GITHUB_TOKEN to open pull requests at all.
    store(fallback, settings={"actions_can_create_pull_requests": False})
    outcome = run_step(hooked, step, fallback, contexts | NO_PR_TOKEN, env=env)
    assert outcome.returncode != 0 and "not permitted" in outcome.stderr
    assert stored(fallback)["pulls"] == []


@pytest.mark.slow
def test_the_hooks_still_refuse_a_secret(hooked, tmp_path):
    """The scanner skips what tools write (reports, locks, data), not what people write: a key
    pasted into params.yaml stops the retraining commit, which names the hook and keeps the
    results on the branch."""
    params = hooked / "params.yaml"
    good = params.read_text()
    params.write_text(good + "aws_access_key_id: AKIAZ7Q4XK2M9PLR3TVB\n")
    start = git_in(hooked, "rev-parse", "--abbrev-ref", "HEAD")
    step = find(hooked, "retrain.yml", "retrain", "make retrain-branch")
    try:
        outcome = run_step(hooked, step, tmp_path, env={"REASON": "secret"})
        branch = git_in(hooked, "rev-parse", "--abbrev-ref", "HEAD")
        staged = git_in(hooked, "diff", "--cached", "--name-only").splitlines()
    finally:
        git_in(hooked, "reset", "-q", "--hard")
        git_in(hooked, "switch", "-q", start)
        params.write_text(good)
    assert outcome.returncode != 0 and outcome.outputs == {}, outcome.stdout
    assert f"the git hooks refused the retraining commit on {branch} (detect secrets)" in (
        outcome.stderr
    ), outcome.stderr
    assert branch.startswith("retrain/") and staged == ["params.yaml"]


@pytest.mark.parametrize("name", ["retrain.yml", "sweep.yml", "template-update.yml"])
def test_workflows_push_and_open_pull_requests_with_pr_token(project, name):
    """The token that opens the pull request also pushed its branch (checkout persists it)."""
    data = workflow(project, name)
    token = "${{ secrets.PR_TOKEN || github.token }}"
    opening = [
        (job_name, step)
        for job_name, job in data["jobs"].items()
        for step in job["steps"]
        if re.search(r"make (retrain|sweep|template-update)-pr\b", step.get("run", ""))
    ]
    assert len(opening) == 1, opening
    job_name, step = opening[0]
    assert step["env"]["GH_TOKEN"] == token
    assert step["env"]["PR_TOKEN_SET"] == "${{ secrets.PR_TOKEN != '' }}"
    checkout = find(project, name, job_name, "actions/checkout")
    assert checkout["with"]["token"] == token and checkout["with"]["persist-credentials"] is True


# Item 10: the pull request fails when CI's make repro changes the committed pipeline state.


def test_pr_fails_when_the_committed_pipeline_state_is_stale_static(project):
    train = steps(project, "pr.yml", "train")
    assert train[-1]["name"] == "make check-committed", [s.get("name") for s in train]
    assert train[-1]["if"] == "${{ !cancelled() && steps.repro.outcome == 'success' }}"
    assert find(project, "pr.yml", "train", "repro")["name"] == "make repro"


@pytest.mark.slow
def test_make_check_committed_names_the_stale_files_and_the_fix(tmp_path):
    project = bake(tmp_path / "bake", init_git="yes")
    params = project / "params.yaml"
    text = re.sub(r"^    n_estimators: \d+", "    n_estimators: 40", params.read_text(), flags=re.M)
    params.write_text(re.sub(r"^(\s+resamples:) \d+", r"\1 200", text, flags=re.M))
    repro = find(project, "pr.yml", "train", "repro")
    check = find(project, "pr.yml", "train", "make check-committed")
    outcome = run_step(project, repro, tmp_path / "first")
    assert outcome.returncode == 0, outcome.stdout[-3000:] + outcome.stderr[-3000:]
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    run(["git", "add", "-A"], project)
    run([*git, "commit", "-q", "-m", "results"], project)
    fresh = run_step(project, check, tmp_path / "fresh")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "as committed" in fresh.stdout and not fresh.summary

    # A pull request that changes params but commits the old dvc.lock and metrics.
    params.write_text(params.read_text().replace("n_estimators: 40", "n_estimators: 30"))
    run([*git, "commit", "-q", "-am", "fewer trees"], project)
    assert run_step(project, repro, tmp_path / "second").returncode == 0
    stale = run_step(project, check, tmp_path / "stale")
    assert stale.returncode != 0, stale.stdout + stale.stderr
    (error,) = stale.annotations("error")
    assert "stale" in error and "make repro && git add dvc.lock" in error
    assert " M dvc.lock" in stale.stderr and " M reports/metrics.json" in stale.stderr
    assert re.search(r"^[-+]\s+md5: [0-9a-f]{32}", stale.stderr, flags=re.M), stale.stderr
    assert "fix: make repro && git add dvc.lock reports/importance.json" in stale.stderr
    assert "Stale pipeline results" in stale.summary and "dvc.lock" in stale.summary
