"""The generated workflows' own logic, run step by step without act: each test takes one step
of a rendered workflow, gives it the environment GitHub would (its `env:` with the expressions
replaced by the values of a simulated event), runs its `run:` script with the shell GitHub uses
(`bash --noprofile --norc -eo pipefail`) in a baked project, with the `gh` stand-in of the act
day (tests/actions/bin/gh) on PATH, and reads its outputs, job summary and annotations. The
workflow's order and conditions (which step runs after which, with what `if:`) are checked
statically on the same YAML. Covers issue 17's items 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 14 and
16; the act day (tests/test_github.py) runs the same files end to end.
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
    # A neutral notice, not a red run on the default branch (issue 27 item 8): a newer push to
    # the pull request is the usual cause, and nothing is posted either way.
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert any("#8" in line for line in outcome.annotations("notice")), outcome.stdout
    assert not outcome.annotations("error") and "nothing posted" in outcome.summary
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
    env = {"PYTHONPATH": str(project / "src"), "GITHUB_BASE_REF": ""}
    run([sys.executable, "-m", "actions_mlops", "report"], project, env=env)
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


def test_a_monitor_that_cannot_measure_fails_the_job_with_its_reason(project, tmp_path):
    """make exits 2 for warn, alarm and error alike; the step reads reports/monitor.json's
    verdict: an error (here a batch that is not there) fails the job, with the reason in the
    summary, and opens no drift issue (its verdict is not alarm)."""
    step = find(project, "monitor.yml", "monitor", "monitor")
    env = {"MONITOR_BATCH": str(tmp_path / "gone.jsonl"), "MONITOR_LABELS": ""}
    outcome = run_step(project, step, tmp_path, env=env)
    assert outcome.returncode != 0, outcome.stdout
    assert outcome.outputs == {"verdict": "error"}
    assert "ERROR" in outcome.summary and "gone.jsonl" in outcome.summary


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


# Item 11 (rest): only main's tip is released, never a commit older than the latest version;
# :latest follows the latest version, :<stage> the version promoted to the stage.

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]


@pytest.fixture
def released(tmp_path) -> Path:
    """A project with origin: A (v0.1.0), X (a model never registered: its run was cancelled),
    B (v0.2.0), all on origin's main."""
    origin = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    project = bake(tmp_path / "bake", init_git="yes")
    run(["git", "remote", "add", "origin", str(origin)], project)
    model = project / "models" / "model.skops"
    model.parent.mkdir(exist_ok=True)
    for name, version in (("A", "v0.1.0"), ("X", None), ("B", "v0.2.0")):
        model.write_bytes(f"model {name}".encode())
        run([*GIT, "commit", "-q", "--allow-empty", "-m", name], project)
        if version:
            digest = hashlib.sha256(model.read_bytes()).hexdigest()
            message = f"{version}\n\nmodel: models/model.skops sha256:{digest}\n"
            run([*GIT, "tag", "-a", f"{project.name}@{version}", "-m", message], project)
    run(["git", "push", "-q", "origin", "main", "--tags"], project)
    return project


def checkout(project: Path, message: str) -> None:
    commit = run(["git", "log", "--format=%H", f"--grep=^{message}$", "main"], project).stdout
    run(["git", "checkout", "-q", "--detach", commit.strip()], project)
    (project / "models" / "model.skops").write_bytes(f"model {message}".encode())


def test_rerunning_an_old_commits_release_refuses_in_one_line(released, tmp_path):
    """X's run re-run after B was released: X's model differs from B's, so the old workflow
    gated and registered it as the newest version (and moved :latest back)."""
    step = find(released, "release.yml", "register", "changed")
    checkout(released, "X")
    outcome = run_step(released, step, tmp_path)
    assert outcome.returncode != 0 and outcome.outputs == {}, outcome.stdout
    lines = [line for line in outcome.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(lines) == 1, outcome.stderr
    (line,) = lines
    assert "is not a descendant of the latest version" in line, line
    assert f"{released.name}@v0.2.0" in line


def test_a_commit_main_moved_past_is_left_to_the_tips_run(released, tmp_path):
    """Three quick merges: the middle one's run is cancelled by GitHub; a run that starts on a
    commit main has moved past releases nothing, the tip's run includes its change."""
    step = find(released, "release.yml", "register", "changed")
    (released / "models" / "model.skops").write_bytes(b"model C")
    run([*GIT, "commit", "-q", "--allow-empty", "-m", "C"], released)
    run([*GIT, "commit", "-q", "--allow-empty", "-m", "D"], released)
    run(["git", "push", "-q", "origin", "main"], released)
    checkout(released, "C")
    outcome = run_step(released, step, tmp_path / "middle")
    assert outcome.outputs == {"changed": "false"}, outcome.stdout + outcome.stderr
    assert "has moved on to" in outcome.summary
    run(["git", "checkout", "-q", "main"], released)  # the tip, D, with C's new model
    outcome = run_step(released, step, tmp_path / "tip")
    assert outcome.outputs == {"changed": "true"}, outcome.stdout + outcome.stderr


def pushes(state: Path) -> list[str]:
    calls = [json.loads(line)["args"] for line in (state / "docker.jsonl").open()]
    return [args[-1] for args in calls if args[0] == "push"]


def test_latest_moves_only_to_the_latest_version(released, tmp_path):
    step = find(released, "release.yml", "publish", "make push-image")
    image = {"IMAGE": "ghcr.io/o/p"}
    checkout(released, "A")  # the publish job of A's run, re-run after B's
    outcome = run_step(released, step, tmp_path / "old", env=image)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    pushed = pushes(tmp_path / "old")
    assert "ghcr.io/o/p:0.1.0" in pushed and "ghcr.io/o/p:latest" not in pushed, pushed
    run(["git", "checkout", "-q", "main"], released)
    outcome = run_step(released, step, tmp_path / "new", env=image)
    pushed = pushes(tmp_path / "new")
    assert pushed[-1] == "ghcr.io/o/p:latest" and "ghcr.io/o/p:0.2.0" in pushed, pushed


def test_release_state_names_heads_version_and_whether_it_is_released(released, tmp_path):
    """make release-state (actions-mlops ci release-state): the publish job runs while HEAD's
    version has no GitHub Release, and never for a commit without a version."""
    step = find(released, "release.yml", "register", "make release-state")
    tag = f"{released.name}@v0.2.0"
    store(tmp_path / "new")
    outcome = run_step(released, step, tmp_path / "new")
    assert outcome.outputs == {"tag": tag, "version": "0.2.0", "released": "false"}, outcome.stderr
    store(tmp_path / "done", releases={tag: {"tag": tag}})
    outcome = run_step(released, step, tmp_path / "done")
    assert outcome.outputs["released"] == "true", outcome.stdout + outcome.stderr
    checkout(released, "X")
    outcome = run_step(released, step, tmp_path / "none")
    assert outcome.outputs == {"tag": "", "version": "", "released": "false"}, outcome.stderr


def test_promotion_moves_the_stages_image_tag(project, tmp_path):
    promote = steps(project, "promote.yml", "promote")
    labels = [s.get("id") or s.get("name") or s["uses"] for s in promote]
    assert labels.index("make promote") < labels.index("stage-image")
    login = find(project, "promote.yml", "promote", "$/.github/actions/registry-login")
    assert labels.index(login["uses"]) < labels.index("stage-image")
    job = workflow(project, "promote.yml")["jobs"]["promote"]
    assert job["permissions"]["packages"] == "write"
    step = find(project, "promote.yml", "promote", "stage-image")
    contexts = {"inputs.version": "v1.2.0", "inputs.stage": "prod"}
    outcome = run_step(project, step, tmp_path, contexts, env={"IMAGE": "ghcr.io/o/p"})
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    calls = [c["args"] for c in map(json.loads, (tmp_path / "docker.jsonl").open())]
    assert calls == [
        ["pull", "--quiet", "ghcr.io/o/p:1.2.0"],
        ["tag", "ghcr.io/o/p:1.2.0", "ghcr.io/o/p:prod"],
        ["push", "--quiet", "ghcr.io/o/p:prod"],
    ], calls


# Item 6: every step that reaches the DVC remote makes its own credentials right before it
# does, for every remote option: a stand-in remote refuses an OIDC token older than TOKEN_TTL
# seconds (GitHub's lives about 5 minutes) and a gs remote without the key's file.

TOKEN_TTL = 2.0
# The jobs that use the remote, and the steps of them that stand for minutes of work.
REMOTE_JOBS = [
    ("pr.yml", "train"),
    ("release.yml", "register"),
    ("retrain.yml", "retrain"),
    ("sweep.yml", "run"),
    ("monitor.yml", "monitor"),
]
LONG_STEPS = {"make repro", "make monitor-batch"}
REMOTE_TARGETS = {"make pull", "make gate", "make register", "make retrain-branch"}
REMOTE_TARGETS |= {"make sweep-point"}
AUDIENCE = {"s3": "sts.amazonaws.com", "azure": "api://AzureADTokenExchange"}
GCP_KEY = '{"type": "service_account", "client_email": "dvc@example.iam.gserviceaccount.com"}'

# The remote as the cloud sees it: fresh credentials or a refusal, each call logged.
STANDIN_DVC = """#!{python}
import json, os, sys, time
args, remote, env = sys.argv[1:], os.environ["STANDIN_REMOTE"], os.environ
if args[:1] == ["remote"]:
    print("storage")
    sys.exit(0)
def refuse(why):
    log(why)
    sys.exit(f"ERROR: stand-in {{remote}} remote: {{why}}")
def log(outcome):
    with open(os.path.join(env["STANDIN_STATE"], "dvc.jsonl"), "a") as f:
        f.write(json.dumps({{"args": args, "outcome": outcome}}) + "\\n")
if remote == "gs":
    path = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path or not os.path.exists(path) or open(path).read() != env["STANDIN_GCP_KEY"]:
        refuse("no service account key file (GOOGLE_APPLICATION_CREDENTIALS)")
else:
    role, file_var = {{"s3": ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"),
                      "azure": ("AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE")}}[remote]
    path = env.get(file_var)
    if not env.get(role) or not path or not os.path.exists(path):
        refuse(f"no {{role}} or no {{file_var}}")
    audience, issued = open(path).read().strip().rsplit("|", 1)
    if audience != env["STANDIN_AUDIENCE"]:
        refuse(f"token for {{audience}}")
    if time.time() - float(issued) > float(env["STANDIN_TOKEN_TTL"]):
        refuse("ExpiredTokenException: the web identity token has expired")
log("ok")
"""
# The package's steps, reduced to what they do with the remote, and how long they take.
STANDIN_PYTHON = """#!/bin/bash
if [ "$1" = -m ] && [ "$2" = actions_mlops ]; then
  case "$3" in
    gate) "$(dirname "$0")/dvc" pull || exit 1; sleep {slow} ;;  # champion's model, bootstrap
    register|retrain-branch) exec "$(dirname "$0")/dvc" push ;;
    sweep) sleep {slow} ;;  # the experiment
    *) exec {python} "$@" ;;
  esac
  exit 0
fi
exec {python} "$@"
"""


@pytest.fixture(scope="module")
def oidc() -> str:
    """GitHub's OIDC token endpoint, standing in on 127.0.0.1: a token names its audience and
    the time it was issued."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            audience = parse_qs(urlparse(self.path).query)["audience"][0]
            ok = self.headers.get("Authorization") == "bearer standin-request-token"
            body = json.dumps({"value": f"{audience}|{time.time()}"}).encode()
            self.send_response(200 if ok else 401)
            self.end_headers()
            self.wfile.write(body if ok else b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/token?api-version=2.0"
    server.shutdown()


def standin_venv(tmp: Path) -> Path:
    venv = tmp / "venv"
    (venv / "bin").mkdir(parents=True)
    scripts = {
        "dvc": STANDIN_DVC.format(python=sys.executable),
        "python": STANDIN_PYTHON.format(python=sys.executable, slow=TOKEN_TTL + 0.5),
    }
    for name, text in scripts.items():
        (venv / "bin" / name).write_text(text)
        (venv / "bin" / name).chmod(0o755)
    return venv


@pytest.mark.slow  # about 27 s a remote: every remote step of every job, each a Python process
@pytest.mark.parametrize("remote", ["s3", "gs", "azure"])
def test_each_remote_step_has_fresh_credentials(remote, oidc, tmp_path_factory):
    """Each job runs its remote steps in order, with the minutes of `make repro` (and of the
    gate, the experiment) standing as TOKEN_TTL seconds: a credential made once per job has
    expired by the push; one made by the step itself has not."""
    import time

    baked = bake(tmp_path_factory.mktemp(f"creds-{remote}"), dvc_remote=remote, init_git="no")
    contexts = {
        "github.token": "ghs_standin",
        "vars.AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/dvc",
        "vars.AWS_REGION": "eu-west-1",
        "secrets.AWS_ACCESS_KEY_ID": "",
        "secrets.AWS_SECRET_ACCESS_KEY": "",
        "secrets.GCP_SERVICE_ACCOUNT_KEY": GCP_KEY,
        "vars.AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
        "vars.AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000002",
        "secrets.AZURE_STORAGE_CONNECTION_STRING": "",
    }
    for name, job in REMOTE_JOBS:
        tmp = tmp_path_factory.mktemp(f"{remote}-{name}-{job}")
        venv = standin_venv(tmp)
        env = {
            "VENV": str(venv),
            "POINT": "0",
            "STANDIN_REMOTE": remote,
            "STANDIN_AUDIENCE": AUDIENCE.get(remote, ""),
            "STANDIN_TOKEN_TTL": str(TOKEN_TTL),
            "STANDIN_GCP_KEY": GCP_KEY,
        }
        permissions = workflow(baked, name)["jobs"][job].get("permissions") or {}
        if permissions.get("id-token") == "write":  # as GitHub: only then the token endpoint
            env["ACTIONS_ID_TOKEN_REQUEST_URL"] = oidc
            env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "standin-request-token"
        ran = []
        for step in steps(baked, name, job):
            script = step.get("run", "")
            if script in LONG_STEPS:
                time.sleep(TOKEN_TTL + 0.5)
            elif script in REMOTE_TARGETS or "oidc-token" in script:
                outcome = run_step(baked, step, tmp, contexts, env)
                assert outcome.returncode == 0, (name, job, script, outcome.stderr[-2000:])
                env.update(outcome.env)  # $GITHUB_ENV reaches the job's later steps
                ran.append(script)
        assert "make pull" in ran, (name, job, ran)
        calls = [json.loads(line) for line in (tmp / "dvc.jsonl").read_text().splitlines()]
        assert calls and all(c["outcome"] == "ok" for c in calls), (name, job, calls)


# Item 16: write credentials only where something is written, from main only.

WRITING_TARGETS = ("make register", "make promote", "make retrain-branch", "make sweep-point")
WRITING_TARGETS += ("make sweep-pr", "make template-update-branch", "make github-release")


def test_write_access_only_in_jobs_that_push(cloud, project):
    for baked in (project, cloud):
        for path in sorted((baked / ".github" / "workflows").glob("*.yml")):
            for name, job in workflow(baked, path.name)["jobs"].items():
                scripts = [s.get("run", "") for s in job["steps"]]
                writes = any(script.startswith(WRITING_TARGETS) for script in scripts)
                if (job.get("permissions") or {}).get("contents") == "write":
                    assert writes, f"{path.name} {name}: contents: write, nothing written"
    sweep = workflow(cloud, "sweep.yml")["jobs"]
    assert sweep["rank"]["permissions"] == {"contents": "read"}
    assert "inputs.open-pr" in sweep["open-pr"]["if"]
    assert sweep["open-pr"]["permissions"]["pull-requests"] == "write"


def test_remote_write_credentials_only_in_the_main_only_environment(cloud, project):
    writers = {("release.yml", "register"), ("retrain.yml", "retrain"), ("sweep.yml", "run")}
    readers = {("pr.yml", "train"), ("monitor.yml", "monitor")}
    for name, job in writers | readers:
        environment = workflow(cloud, name)["jobs"][job].get("environment")
        assert environment == ("dvc-write" if (name, job) in writers else None), (name, job)
        assert "environment" not in workflow(project, name)["jobs"][job], "no remote: no env"
    readme = (cloud / "README.md").read_text()
    assert "`dvc-write`" in readme and "read-only" in readme
    assert f"`{cloud.name}@v*`" in readme and f"`{cloud.name}#*`" in readme


# Item 14: pull requests restore DVC's cache and run-cache; main saves it, never restoring one
# into a release. bench/prcache.py measures what it saves.


def test_pull_requests_restore_the_dvc_cache_main_saves_it(project):
    cache = find(project, "pr.yml", "train", "actions/cache")
    key = "dvc-${{ runner.os }}-${{ hashFiles('dvc.lock') }}"
    assert cache["with"] == {
        "path": ".dvc/cache",
        "key": key,
        "restore-keys": "dvc-${{ runner.os }}-",
    }
    assert index(project, "pr.yml", "train", "actions/cache") < index(
        project, "pr.yml", "train", "make repro"
    )
    saved = find(project, "release.yml", "register", "actions/cache")
    assert saved["with"] == {"path": ".dvc/cache", "key": key, "lookup-only": True}
    for job in workflow(project, "release.yml")["jobs"]:
        for step in steps(project, "release.yml", job):
            if step.get("uses", "").startswith("actions/cache"):
                assert step["with"].get("lookup-only") is True, "a release restores a cache"


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
    params.write_text(re.sub(r"^(\s+resamples:) \d+", r"\1 200", params.read_text(), flags=re.M))
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
    params.write_text(re.sub(r"^(\s+resamples:) \d+", r"\1 200", params.read_text(), flags=re.M))
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
    params.write_text(re.sub(r"^(\s+C:) [\d.]+", r"\1 0.5", params.read_text(), flags=re.M))
    run([*git, "commit", "-q", "-am", "stronger regularisation"], project)
    assert run_step(project, repro, tmp_path / "second").returncode == 0
    stale = run_step(project, check, tmp_path / "stale")
    assert stale.returncode != 0, stale.stdout + stale.stderr
    (error,) = stale.annotations("error")
    assert "stale" in error and "make repro && git add dvc.lock" in error
    assert " M dvc.lock" in stale.stderr and " M reports/metrics.json" in stale.stderr
    assert re.search(r"^[-+]\s+md5: [0-9a-f]{32}", stale.stderr, flags=re.M), stale.stderr
    assert "fix: make repro && git add dvc.lock reports/importance.json" in stale.stderr
    assert "Stale pipeline results" in stale.summary and "dvc.lock" in stale.summary


# Issue 28, item 4: batch.yml scores the batch with the prod version, keeps the predictions,
# monitors them and opens the drift issue as monitor.yml does (its steps are make targets).


def test_batch_scores_with_prod_keeps_and_monitors_the_predictions(project, cloud, tmp_path):
    check = find(project, "batch.yml", "configured", "check")
    env = {"MONITOR_BATCH_COMMAND": "true", "MONITOR_BATCH": ""}
    outcome = run_step(project, check, tmp_path / "half", env=env)
    assert outcome.outputs == {"configured": "false"} and "NOT CONFIGURED" in outcome.summary
    env["MONITOR_BATCH"] = "data/batch.parquet"
    outcome = run_step(project, check, tmp_path / "set", env=env)
    assert outcome.outputs == {"configured": "true"}
    batch = workflow(project, "batch.yml")
    assert batch["env"]["MONITOR_BATCH"] == "${{ vars.BATCH_DATA }}"
    assert batch["env"]["SPARK"] == "${{ vars.SPARK_MASTER }}"
    score = batch["jobs"]["score"]
    assert score["permissions"] == {"contents": "read", "issues": "write"}
    assert workflow(cloud, "batch.yml")["jobs"]["score"]["permissions"]["id-token"] == "write"
    order = ["make pull", "make monitor-batch", "make predict", "actions/upload-artifact"]
    order += ["monitor", "make drift-issue"]
    at = [index(project, "batch.yml", "score", label) for label in order]
    assert at == sorted(at), order
    predict = find(project, "batch.yml", "score", "make predict")["run"]
    assert "STAGE=prod" in predict and 'DATA="$MONITOR_BATCH"' in predict
    out = predict.split("OUT=")[1].split()[0]
    assert find(project, "batch.yml", "score", "actions/upload-artifact")["with"]["path"] == out
    assert f"BATCH={out} make monitor" in find(project, "batch.yml", "score", "monitor")["run"]
    issue = find(project, "batch.yml", "score", "make drift-issue")
    assert issue["if"] == "${{ steps.monitor.outputs.verdict == 'alarm' }}"
    assert issue["run"] == find(project, "monitor.yml", "monitor", "make drift-issue")["run"]
