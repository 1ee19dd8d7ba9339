"""The `actions-mlops ci` commands the Makefile's CI targets are (github/tree.py, pulls.py,
alarms.py, credentials.py, publish.github_release), each run in a real git repository with a
bare origin, the example project's params.yaml (registry.branch: release) and the template's
`gh` stand-in (tests/actions/bin/gh), which records what GitHub would hold."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from actions_mlops.checks import release_branch_problems
from actions_mlops.core.typed import read_yaml
from actions_mlops.github import alarms, credentials, publish, pulls, tree, updates
from conftest import ROOT, TEMPLATE

GH = TEMPLATE / "tests" / "actions" / "bin"
WORKFLOW = "on:\n  push:\n    branches: [{}]\n"


def git(cwd: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, cwd=cwd, check=True, text=True, capture_output=True).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project with the example's params.yaml (release branch `release`), committed and
    pushed to a bare origin; the gh stand-in first on PATH, its state in state/."""
    project = tmp_path / "project"
    project.mkdir()
    params = (ROOT / "params.yaml").read_text()
    assert "branch: main" in params
    (project / "params.yaml").write_text(params.replace("branch: main", "branch: release"))
    (project / "reports").mkdir()
    (project / "reports" / "report.md").write_text("The report.\n")
    git(project, "init", "-q", "-b", "release")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "project")
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(project, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(project, "push", "-q", "origin", "release")
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("PATH", f"{GH}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_STATE", str(state))
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path))
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_REPOSITORY", "PR_TOKEN_SET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(project)
    yield project


def stored(repo: Path) -> dict:
    path = repo.parent / "state" / "github.json"
    return json.loads(path.read_text()) if path.exists() else {}


def in_actions(monkeypatch: pytest.MonkeyPatch, repo: Path) -> Path:
    """GitHub Actions' environment: annotations on, a job summary file."""
    summary = repo.parent / "summary.md"
    summary.write_text("")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_REPOSITORY", "Example-Org/example-model")
    return summary


def test_check_committed_names_the_stale_files_the_fix_and_the_release_branch(
    repo, monkeypatch, capsys
):
    assert tree.check_committed() == 0
    assert "as committed" in capsys.readouterr().out
    summary = in_actions(monkeypatch, repo)
    (repo / "reports" / "report.md").write_text("Another report.\n")
    (repo / "dvc.lock").write_text("schema: '2.0'\n")
    assert tree.check_committed() == 1
    said = capsys.readouterr()
    assert " M reports/report.md" in said.err and "?? dvc.lock" in said.err
    fix = "make repro && git add reports/report.md dvc.lock && git commit -m 'Pipeline results'"
    assert f"fix: {fix}" in said.err
    (error,) = [line for line in said.out.splitlines() if line.startswith("::error")]
    assert "refuse this commit on release" in error and error.endswith(f"fix: {fix}")
    assert "**Stale pipeline results**" in summary.read_text()


def test_template_conflicts_lists_markers_and_rejected_hunks(repo, capsys):
    assert tree.template_conflicts() == 0
    assert capsys.readouterr().out == "make template-conflicts: none\n"
    (repo / "Makefile").write_text("<<<<<<< ours\na\n=======\nb\n>>>>>>> theirs\n")
    (repo / "data.csv").write_text("<<<<<<< not a conflict\n")
    git(repo, "add", "Makefile", "data.csv")
    (repo / "pyproject.toml.rej").write_text("@@ hunk\n")
    assert tree.template_conflicts() == 1
    err = capsys.readouterr().err
    assert "  Makefile\n  pyproject.toml.rej\n" in err and "data.csv" not in err
    assert err.startswith("make template-conflicts: the template's update overlaps")


def test_pull_without_a_remote_checks_out_the_local_cache(repo, capsys):
    subprocess.run([Path(sys.executable).parent / "dvc", "init", "-q"], check=True)
    assert tree.pull() == 0
    assert capsys.readouterr().out.startswith("make pull: no DVC remote in .dvc/config")


def test_pull_requests_open_against_the_release_branch_and_warn_without_pr_token(repo, monkeypatch):
    summary = in_actions(monkeypatch, repo)
    git(repo, "push", "-q", "origin", "HEAD:refs/heads/retrain/1")
    monkeypatch.setenv("GH_TOKEN", "ghs_standin")  # the job's own GITHUB_TOKEN
    assert pulls.retrain_pr("retrain/1", "drift alarm") == 0
    (pull,) = stored(repo)["pulls"]
    assert (pull["base"], pull["head"], pull["title"]) == (
        "release",
        "retrain/1",
        "Retrain: drift alarm",
    )
    assert stored(repo)["events"] == []  # GitHub starts no workflow for it: hence the warning
    assert "**Pull request will not be trained**" in summary.read_text()


def test_a_template_update_pull_request_lists_its_conflicts(repo, monkeypatch, capsys):
    monkeypatch.setenv("GH_TOKEN", "github_pat_x")
    (repo / "README.md").write_text("<<<<<<< ours\nmine\n=======\ntheirs\n>>>>>>> template\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-qm", "update with a conflict")
    git(repo, "push", "-q", "origin", "HEAD:refs/heads/template-update/0123456789ab")
    assert pulls.template_update_pr("template-update/0123456789ab") == 0
    (pull,) = stored(repo)["pulls"]
    assert pull["base"] == "release" and pull["title"] == "Template update (0123456789ab)"
    assert pull["body"].startswith(pulls.UPDATE_BODY)
    assert (
        "**Conflicts to resolve on this branch**" in pull["body"] and "  README.md" in pull["body"]
    )
    assert not capsys.readouterr().out.startswith("::warning")
    assert not list(repo.parent.glob("template-update-*")), "the body's file is left behind"


def test_a_missing_pull_request_body_is_one_line(repo, capsys):
    (repo / "reports" / "report.md").unlink()
    assert pulls.retrain_pr("retrain/1", "drift") == 1
    assert capsys.readouterr().err == (
        "pull request of retrain/1 not opened: no reports/report.md (its body)\n"
    )


def test_the_drift_issue_is_opened_once_then_updated(repo, monkeypatch, capsys):
    in_actions(monkeypatch, repo)
    (repo / "reports" / "monitor.md").write_text("Drift: FAIL\n")
    assert alarms.drift_issue() == 0
    (repo / "reports" / "monitor.md").write_text("Drift: FAIL again\n")
    assert alarms.drift_issue() == 0
    (issue,) = stored(repo)["issues"]
    assert issue["title"] == "Model drift alarm: example-model"
    assert issue["labels"] == ["model-drift"]
    url = "https://example-org.github.io/example-model/drift.html"
    trend = f"Drift over time, per feature: {url} (the registry site, site.yml)"
    assert issue["body"] == f"Drift: FAIL again\n\n{trend}\n"
    assert f"make drift-issue: updated #{issue['number']}" in capsys.readouterr().out


def test_monitor_history_keeps_each_completed_runs_report_once(repo, capsys):
    state = repo.parent / "state"
    runs = [
        {
            "workflow": "monitor.yml",
            "databaseId": 7,
            "createdAt": "2026-12-01T06:00:00Z",
            "status": "completed",
        },
        {
            "workflow": "monitor.yml",
            "databaseId": 8,
            "createdAt": "2026-12-02T06:00:00Z",
            "status": "in_progress",
        },
        {
            "workflow": "monitor.yml",
            "databaseId": 9,
            "createdAt": "2026-12-03T06:00:00Z",
            "status": "completed",
        },
    ]
    (state / "github.json").write_text(json.dumps({"runs": runs}))
    kept = state / "artifacts" / "7" / "monitor-report"
    kept.mkdir(parents=True)
    (kept / "monitor.json").write_text('{"verdict": "pass"}')
    for _ in range(2):
        assert alarms.monitor_history(60) == 0
    history = repo / "reports" / "monitor-history"
    assert [p.name for p in history.iterdir()] == ["2026-12-01T06-00-00Z-run7.json"]
    assert capsys.readouterr().out.endswith("1 monitor reports in reports/monitor-history/\n")
    assert not list(repo.parent.glob("monitor-run-*"))


def test_a_github_release_needs_heads_version(repo, capsys):
    assert publish.github_release() == 1
    assert (
        capsys.readouterr().err
        == "make github-release: HEAD has no version tag: make register first\n"
    )
    assert stored(repo).get("releases", {}) == {}


def child_environment(*names: str) -> dict[str, str]:
    """The variables `names` as a command run by with_credentials sees them."""
    out = str(Path(os.environ["RUNNER_TEMP"]) / "child.json")
    values = f"{{n: os.environ.get(n) for n in {names!r}}}"
    code = f"import json, os; open({out!r}, 'w').write(json.dumps({values}))"
    assert credentials.with_credentials(["--", sys.executable, "-c", code]) == 0
    return json.loads(Path(out).read_text())


def test_a_gcp_key_becomes_a_private_file(repo, monkeypatch):
    monkeypatch.setenv("GCP_SERVICE_ACCOUNT_KEY", '{"type": "service_account"}')
    seen = child_environment("GOOGLE_APPLICATION_CREDENTIALS")
    key = Path(seen["GOOGLE_APPLICATION_CREDENTIALS"])
    assert key.read_text() == '{"type": "service_account"}'
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


@pytest.fixture
def token_endpoint() -> Iterator[str]:
    """GitHub's OIDC token endpoint on 127.0.0.1: the token names its audience; a request
    without the job's request token is refused."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.headers.get("Authorization") == "bearer request-token"
            audience = self.path.rsplit("audience=", 1)[-1]
            self.send_response(200 if ok else 401)
            self.end_headers()
            self.wfile.write(json.dumps({"value": f"token-for-{audience}"}).encode() if ok else b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/token?api-version=2.0"
    server.shutdown()
    server.server_close()


def test_an_oidc_token_is_fetched_for_the_remotes_audience(
    repo, monkeypatch, token_endpoint, capsys
):
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", token_endpoint)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token")
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
    seen = child_environment("AZURE_FEDERATED_TOKEN_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE")
    assert seen["AWS_WEB_IDENTITY_TOKEN_FILE"] is None
    token = Path(seen["AZURE_FEDERATED_TOKEN_FILE"])
    assert token.read_text() == "token-for-api://AzureADTokenExchange"
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "expired")
    assert credentials.with_credentials([sys.executable, "-c", "pass"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(
        "with-credentials: no OIDC token from GitHub for api://AzureADTokenExchange"
    )


def test_registry_branch_must_be_a_branch_release_yml_runs_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = {"registry": {"model": "m", "branch": "release"}}
    assert release_branch_problems(raw) == []  # no workflow: nothing to compare
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "release.yml").write_text(WORKFLOW.format("main"))
    (problem,) = release_branch_problems(raw)
    assert str(problem) == (
        "params.yaml: registry.branch: release — a branch .github/workflows/release.yml's "
        "`on: push: branches` lists (main): change both together, or nothing is released"
    )
    (workflows / "release.yml").write_text(WORKFLOW.format("main, release"))
    assert read_yaml(workflows / "release.yml")["on"]["push"]["branches"] == ["main", "release"]
    assert release_branch_problems(raw) == []


def test_a_github_release_holds_the_release_folder_and_the_model_card(repo, capsys):
    git(repo, "tag", "-a", "example-model@v0.1.0", "-m", "Registering example-model version 0.1.0")
    release = repo / "release"
    release.mkdir()
    (release / "model-card.md").write_text("# Model card\n")
    (release / "metrics.json").write_text("{}")
    assert publish.github_release() == 0, capsys.readouterr().err
    entry = stored(repo)["releases"]["example-model@v0.1.0"]
    assert entry["assets"] == ["metrics.json", "model-card.md"]
    assert entry["options"]["notes-file"] == "release/model-card.md"
    assert entry["options"]["verify-tag"] is True


def test_the_report_compares_with_the_release_branch_by_default(repo, monkeypatch):
    """retrain.yml's `make report` (no BASE, no pull request) compares with origin/release."""
    from actions_mlops.core.config import load_params
    from actions_mlops.release.report import resolve_base

    monkeypatch.delenv("GITHUB_BASE_REF", raising=False)
    name, _, commit = resolve_base(None, load_params().registry.branch)
    assert (name, commit) == ("origin/release", git(repo, "rev-parse", "HEAD").strip())


def test_update_merges_the_templates_newer_version_and_lists_conflicts(
    tmp_path, monkeypatch, capsys
):
    """`make update` (ci update) with real cruft: a template change arrives, an edit of the same
    line becomes a conflict that is listed (exit 1); no .cruft.json is one line."""
    monkeypatch.chdir(tmp_path)
    assert updates.update("") == 1
    assert capsys.readouterr().err == (
        "make update: no .cruft.json: link this project to its template once: "
        "cruft link <template-url>\n"
    )
    template = tmp_path / "template"
    (template / "{{cookiecutter.project}}").mkdir(parents=True)
    (template / "cookiecutter.json").write_text('{"project": "p"}')
    files = template / "{{cookiecutter.project}}"
    (files / "Makefile").write_text("a: ## one\n")
    (files / "README.md").write_text("Read me.\n")
    git(template, "init", "-q", "-b", "main")
    git(template, "add", "-A")
    git(template, "commit", "-qm", "template 1")
    cruft = [str(Path(sys.executable).parent / "cruft"), "create", "--no-input", str(template)]
    subprocess.run(cruft, cwd=tmp_path, check=True, capture_output=True)
    project = tmp_path / "p"
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "project")
    (files / "Makefile").write_text("a: ## one, fixed\n")
    (files / "README.md").write_text("Read me, fixed.\n")
    git(template, "commit", "-qam", "template 2")
    (project / "README.md").write_text("My own README.\n")
    git(project, "commit", "-qam", "my README")
    monkeypatch.chdir(project)
    capsys.readouterr()
    assert updates.update("") == 1
    assert (project / "Makefile").read_text() == "a: ## one, fixed\n"  # the template's fix
    err = capsys.readouterr().err
    assert "the template's update overlaps your edits in:\n  README.md" in err.replace(
        ".rej", ""
    ), err
