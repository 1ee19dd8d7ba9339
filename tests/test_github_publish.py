"""Issue 27 item 12: who saves uv's cache, and how the release logs in to another registry.

GitHub lets a run restore the caches of its own ref and of the default branch only ("Caching
dependencies": a pull request cannot read another's). So a uv cache saved only by pull request
runs leaves every new pull request cold: the default branch must save one too, and a workflow
that publishes must never restore one (a poisoned cache would reach the release). Two jobs of
one run saving the same key race for it: one saves per run. GITHUB_TOKEN logs in to ghcr.io
only: another IMAGE_REGISTRY needs credentials of its own, or the job stops before logging in.
Fast: a bake, the workflows read as YAML, the check step's script run by bash.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import bake


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("bake"), init_git="no")


def workflows(project: Path) -> dict[str, dict]:
    folder = project / ".github" / "workflows"
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yml"))}


def uv_cache(job: dict) -> tuple[bool, bool]:
    """(restores, saves) uv's cache in this job: the setup action's `cache` input."""
    for step in job.get("steps", []):
        if step.get("uses") == "$/.github/actions/setup":
            mode = str(step.get("with", {}).get("cache", "false"))
            return mode in ("true", "restore"), mode in ("true", "save")
    return False, False


def publishes(job: dict) -> bool:
    granted = job.get("permissions") or {}
    return any(granted.get(scope) == "write" for scope in ("contents", "packages", "pages"))


def test_uv_cache_is_saved_once_per_run_and_on_the_default_branch(project):
    setup = yaml.safe_load((project / ".github/actions/setup/action.yml").read_text())
    steps = setup["runs"]["steps"]
    (uv,) = [s for s in steps if s.get("uses", "").startswith("astral-sh/setup-uv@")]
    # The action maps its `cache` input onto setup-uv's own restore and save switches.
    assert "inputs.cache == 'restore'" in uv["with"]["restore-cache"]
    assert "inputs.cache == 'save'" in uv["with"]["save-cache"]
    saved_on_main = []
    for name, workflow in workflows(project).items():
        jobs = workflow["jobs"]
        savers = [job_id for job_id, job in jobs.items() if uv_cache(job)[1]]
        assert len(savers) <= 1, f"{name}: {savers} all save the same uv cache key"
        for job_id, job in jobs.items():
            restores, saves = uv_cache(job)
            if publishes(job) or job.get("environment"):
                assert not restores, f"{name} {job_id} publishes and restores a cache"
            trigger = workflow.get(True) or workflow.get("on")  # YAML 1.1 reads `on` as True
            if saves and "main" in (trigger.get("push") or {}).get("branches", []):
                saved_on_main.append(f"{name} {job_id}")
    assert saved_on_main, "no default-branch run saves uv's cache: every pull request starts cold"
    assert uv_cache(workflows(project)["pr.yml"]["jobs"]["train"]) == (True, False)


def registry_login(project: Path) -> tuple[str, dict]:
    """The registry-login action's credentials check (its script) and its docker login, after
    checking that release.yml and promote.yml log in through it with the right values."""
    for name, job in (("release.yml", "publish"), ("promote.yml", "promote")):
        steps = workflows(project)[name]["jobs"][job]["steps"]
        assert not [s for s in steps if s.get("uses", "").startswith("docker/login-action@")]
        (login,) = [s for s in steps if s.get("uses") == "$/.github/actions/registry-login"]
        assert login["with"] == {
            "registry": "${{ env.IMAGE_REGISTRY }}",
            "github-token": "${{ secrets.GITHUB_TOKEN }}",
            "username": "${{ vars.REGISTRY_USERNAME }}",
            "password": "${{ secrets.REGISTRY_PASSWORD }}",
        }, name
    action = yaml.safe_load((project / ".github/actions/registry-login/action.yml").read_text())
    check, docker = action["runs"]["steps"]
    assert docker["uses"].startswith("docker/login-action@")
    return check["run"], docker


@pytest.mark.parametrize(
    ("registry", "username", "password", "refused"),
    [
        ("ghcr.io", "", "false", False),
        ("registry.example.com", "", "false", True),
        ("registry.example.com", "robot", "false", True),
        ("registry.example.com", "robot", "true", False),
    ],
)
def test_another_registry_needs_its_own_credentials(project, registry, username, password, refused):
    script, docker = registry_login(project)
    env = {"PATH": "/usr/bin:/bin", "IMAGE_REGISTRY": registry, "USERNAME": username}
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        env=env | {"HAS_PASSWORD": password},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == (1 if refused else 0), done.stdout + done.stderr
    lines = done.stdout.splitlines()
    if refused:
        (line,) = lines
        assert line.startswith("::error title=No registry credentials::IMAGE_REGISTRY is ")
        assert "REGISTRY_USERNAME" in line and "REGISTRY_PASSWORD" in line
    else:
        assert lines == []
    # ghcr.io: the job's token; elsewhere: the repository's own credentials.
    with_ = docker["with"]
    assert re.fullmatch(
        r"\$\{\{ inputs.registry == 'ghcr.io' && inputs.github-token \|\| "
        r"inputs.password \}\}",
        with_["password"],
    ), with_
    assert "inputs.username" in with_["username"]
