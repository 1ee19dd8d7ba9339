"""A GitHub day on this machine: the generated workflows themselves, run by `act` on the host.

For the default variant and one other, a baked project gets a local bare `origin`; its real
workflow files run with `act <event> -e payload.json -P ubuntu-latest=-self-hosted`, every
remote action replaced by a local stand-in (tests/actions/*/action.yml, via
`--local-repository owner/repo@sha=folder`) and `gh` / `docker` by recording fakes
(tests/actions/bin). Steps that call `make` run for real in the shared environment: act gets
the repository variable `VENV=<this interpreter's prefix>` (`--var`), so the workflows skip
`make setup` and every target uses that environment, as on a runner with a prebuilt one.
For the default variant the recording `docker` runs the real docker CLI after recording: the
release builds the image with this machine's engine and pushes it to a local registry (the
repository variable IMAGE_REGISTRY); the test pulls it back from there, runs it and calls it.
Each scenario prints which steps ran for real and which were stand-ins.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests
import yaml
from conftest import TEMPLATE, bake, run
from test_container import docker, running
from test_registry_serving import free_port, in_process_predictions, records_of

pytestmark = [pytest.mark.github, pytest.mark.slow]

ACTIONS = TEMPLATE / "tests" / "actions"
sys.path.insert(0, str(ACTIONS))
import gitserver  # noqa: E402

# The tokens origin knows: the run's GITHUB_TOKEN and the PR_TOKEN secret the retrain day sets.
TOKENS = {"ghs_standin": {"contents"}, "github_pat_standin": {"contents"}}
BIN = Path(sys.executable).parent
OWNER = "example-org"
# Besides public repositories (the default day), days on a private one on GitHub Free (no
# environments, no rulesets, no attestations; every read needs its job permission) and on an
# organisation's private one on Team (environments without reviewers).
PRIVATE_FREE = {"visibility": "private", "owner": {"login": OWNER, "type": "User"}, "plan": "free"}
ORGANISATION = {"visibility": "private", "plan": "team"}
ORGANISATION |= {"owner": {"login": OWNER, "type": "Organization"}}
REGISTRY_USER = "release-robot"
STANDINS = {
    "actions/checkout": "actions-checkout",
    "actions/setup-python": "actions-setup-python",
    "astral-sh/setup-uv": "astral-sh-setup-uv",
    "actions/cache": "actions-cache",
    "actions/upload-artifact": "actions-upload-artifact",
    "actions/download-artifact": "actions-download-artifact",
    "docker/login-action": "docker-login-action",
    "actions/attest-build-provenance": "actions-attest-build-provenance",
    "actions/upload-pages-artifact": "actions-upload-pages-artifact",
    "actions/deploy-pages": "actions-deploy-pages",
}
STEP_LINE = re.compile(
    r"^\[(?P<wf>[^/\]]+)/(?P<job>[^\]]+)\]\s+(?P<mark>✅  Success|❌  Failure)"
    # act appends the duration past a threshold: " [15.4ms]", " [2.1s]", " [1m15.4s]", " [1h2m3s]"
    r" - (?P<phase>Main|Pre|Post) (?P<step>.+?)(?: \[(?:\d+h)?(?:\d+m)?[\d.]+[µm]?s\])?$"
)
FUTURE_TARGETS = ("gate", "report", "register", "promote", "package", "containerize")


def skip_without_targets(project: Path, *targets: str) -> None:
    text = (project / "Makefile").read_text()
    for target in targets:
        if not re.search(rf"^{target}:", text, flags=re.M):
            pytest.skip(f"make {target} not in the generated Makefile yet")


def steps_uses(steps: list[dict], project: Path) -> list[tuple[str, dict]]:
    """(uses, with) of each remote action the steps run, a local composite action's own
    steps included (GitHub runs them; act needs their stand-ins too)."""
    found = []
    for step in steps:
        if "uses" not in step:
            continue
        if step["uses"].startswith(("./", "$/")):  # an action of the repository itself
            path = project / step["uses"][2:]
            action = yaml.safe_load((path / "action.yml").read_text())
            declared = action.get("inputs", {})
            unknown = set(step.get("with", {})) - set(declared)
            assert not unknown, f"{step['uses']} has no input {sorted(unknown)}"
            found += steps_uses(action["runs"]["steps"], project)
        else:
            found.append((step["uses"], step.get("with", {})))
    return found


def uses_in(workflow: Path) -> list[tuple[str, dict]]:
    data = yaml.safe_load(workflow.read_text())
    project = workflow.parents[2]
    steps = [step for job in data["jobs"].values() for step in job.get("steps", [])]
    return steps_uses(steps, project)


def check_inputs(workflow: Path) -> None:
    """act drops unknown inputs silently: reject them here, as GitHub's action would."""
    for uses, with_ in uses_in(workflow):
        repo = uses.split("@")[0]
        assert repo in STANDINS, f"{workflow.name}: no stand-in for {repo}"
        declared = yaml.safe_load((ACTIONS / STANDINS[repo] / "action.yml").read_text())["inputs"]
        unknown = set(with_) - set(declared)
        assert not unknown, f"{workflow.name}: {repo} has no input {sorted(unknown)}"
        missing = {n for n, d in declared.items() if d.get("required")} - set(with_)
        assert not missing, f"{workflow.name}: {repo} needs {sorted(missing)}"


@pytest.fixture(scope="module")
def local_registry(tmp_path_factory) -> Iterator[str]:
    """host:port of Debian's docker-registry (the reference OCI registry) on 127.0.0.1, its
    storage in a temporary folder; stopped by its PID."""
    binary = shutil.which("docker-registry")
    if not binary:
        pytest.skip("no docker-registry (apt-get install docker-registry; scripts/docker-base.sh)")
    root = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{free_port()}"
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
        "http": {"addr": address},
    }
    (root / "config.yml").write_text(yaml.safe_dump(config))
    with (root / "registry.log").open("w") as log:
        process = subprocess.Popen(
            [binary, "serve", str(root / "config.yml")], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while not registry_answers(address):
            if time.monotonic() > deadline or process.poll() is not None:
                log_text = (root / "registry.log").read_text()
                pytest.fail(f"docker-registry not up: {log_text[-2000:]}")
            time.sleep(0.2)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def registry_answers(address: str) -> bool:
    try:
        return requests.get(f"http://{address}/v2/", timeout=5).status_code == 200
    except requests.RequestException:
        return False


MANIFESTS = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)


def registry_digest(address: str, name: str, tag: str) -> str:
    """The digest the registry reports for name:tag (the Docker-Content-Digest header)."""
    url = f"http://{address}/v2/{name}/manifests/{tag}"
    response = requests.head(url, headers={"Accept": MANIFESTS}, timeout=10)
    assert response.status_code == 200, (url, response.status_code)
    return response.headers["Docker-Content-Digest"]


def registry_tags(address: str, name: str) -> list[str]:
    response = requests.get(f"http://{address}/v2/{name}/tags/list", timeout=10)
    assert response.status_code == 200, response.text
    return sorted(response.json()["tags"])


class Day:
    """One repository on a simulated GitHub: a bare origin, a developer's clone, act runs.
    With `registry` (host:port), the release uses the real docker CLI and pushes there."""

    def __init__(
        self,
        tmp: Path,
        registry: str | None = None,
        repository: dict | None = None,
        **options: str,
    ):
        """`repository`: its visibility, owner and plan as the gh stand-in's github.json holds
        them (PRIVATE_FREE, ORGANISATION); None: a public one, as before."""
        if not shutil.which("node"):  # act runs the actions/cache stand-in's main and post
            reason = "no node for act's JavaScript stand-in (apt-get install nodejs)"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        self.project = bake(tmp / "bake", init_git="yes", **options)
        self.name = self.project.name
        self.state = tmp / "state"
        self.state.mkdir()
        self.repository = repository or {"visibility": "public"}
        if repository:  # the stand-ins answer (and refuse) by it
            (self.state / "github.json").write_text(json.dumps({"repository": repository}))
        # origin as github.com answers a job: over HTTP, wanting the job's token (kept where
        # actions/checkout keeps it), refusing workflow-file pushes without the Workflows
        # permission; the developer pushes from their machine (here: by path).
        self.origin = gitserver.bare(self.state, "origin")
        public = self.repository["visibility"] == "public"
        self.served = gitserver.serving(self.state, TOKENS, public=public)
        url, self.origin_requests = self.served.__enter__()
        self.origin_url = f"{url}/origin.git"
        self.git("remote", "add", "origin", str(self.origin))
        # act reads owner/repo from this remote's URL (--remote-name); nothing is fetched from it.
        self.git("remote", "add", "github", f"https://github.com/{OWNER}/{self.name}.git")
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "user.name", "Dev")
        self.runs = 0
        self.registry = registry or "ghcr.io"
        self.image = f"{self.registry}/{OWNER}/{self.name}"
        self.real_docker = shutil.which("docker") if registry else None
        self.env = {
            "PATH": f"{ACTIONS / 'bin'}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
            "STANDIN_STATE": str(self.state),
            "BENTOML_HOME": str(self.state / "bentoml"),
            # The project's own pytest (make check in pr.yml's check job) must not inherit this
            # session's options; it runs two of its files: the job's YAML is what is under test
            # here, test_generated.py and test_adopt.py run the whole suite.
            "PYTEST_ADDOPTS": "tests/test_features.py",
        }

    def git(self, *args: str) -> str:
        owner = {"STANDIN_WORKFLOWS": "true"}  # the owner's own pushes may change workflows
        return run(["git", *args], self.project, env=owner).stdout.strip()

    def make(self, target: str) -> None:
        run(["make", target, f"VENV={sys.prefix}"], self.project, timeout=900)

    def origin_tags(self) -> set[str]:
        out = run(["git", "tag", "--list"], self.origin).stdout
        return set(out.split())

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def edit_params(self, pattern: str, replacement: str) -> None:
        path = self.project / "params.yaml"
        text, n = re.subn(pattern, replacement, path.read_text(), flags=re.M)
        assert n, pattern
        path.write_text(text)

    def act(
        self,
        event: str,
        workflow: str,
        payload: dict,
        job: str | None = None,
        variables: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
        runner_setup: bool = False,
    ) -> Run:
        """Run one workflow file of the project's HEAD with act; return its steps' results.
        `runner_setup`: no VENV variable, so `make setup` runs as on a runner (uv sync from the
        warm uv cache into the workspace's .venv, and the git hooks)."""
        self.runs += 1
        wf = self.project / ".github" / "workflows" / workflow
        check_inputs(wf)
        # act 0.2.89 rejects GitHub's self-repository `uses: $/<path>` (nektos/act#6189): it runs
        # a copy that says `./<path>`, the same action at the same commit in a job that checked
        # out first, as every job of ours does before its setup (asserted here).
        ran = self.state / "workflows" / workflow
        ran.parent.mkdir(exist_ok=True)
        text = wf.read_text().replace("uses: $/", "uses: ./")
        # act 0.2.89's workflow schema predates the `artifact-metadata` permission (GitHub's,
        # for the attestation's storage record): the copy act runs leaves that line out.
        text = re.sub(r"^\s+artifact-metadata: write.*\n", "", text, flags=re.M)
        ran.write_text(text)
        for job_id, spec in yaml.safe_load(wf.read_text())["jobs"].items():
            uses = [step.get("uses", "") for step in spec.get("steps", [])]
            first = next((i for i, u in enumerate(uses) if u.startswith("$/")), None)
            checkout = next((i for i, u in enumerate(uses) if "actions/checkout@" in u), None)
            assert first is None or (checkout is not None and checkout < first), (workflow, job_id)
        # GitHub's payloads say whether the repository is private (promote.yml reads it).
        private = self.repository["visibility"] != "public"
        payload = payload | {"repository": payload.get("repository", {}) | {"private": private}}
        event_file = self.state / f"event-{self.runs}.json"
        event_file.write_text(json.dumps(payload))
        command = [
            str(BIN / "act"),
            event,
            "-W",
            str(ran),
            "-e",
            str(event_file),
            "-P",
            "ubuntu-latest=-self-hosted",
            "--no-skip-checkout",
            "--remote-name",
            "github",
            *([] if runner_setup else ["--var", f"VENV={sys.prefix}"]),
            # github.token / secrets.GITHUB_TOKEN: only the recording fakes ever see it.
            "--secret",
            "GITHUB_TOKEN=ghs_standin",
            "--env",
            f"STANDIN_STATE={self.state}",
            "--env",
            f"STANDIN_ORIGIN_URL={self.origin_url}",
            # A BentoML store of this repository's own: two days at once (xdist) bake projects
            # with the same model name, and `make package` refuses another project's entry.
            "--env",
            f"BENTOML_HOME={self.state / 'bentoml'}",
            "--env",
            f"STANDIN_PYTHON={sys.executable}",
            "--env",
            f"STANDIN_LIB={ACTIONS / 'standin.py'}",
            "--env",
            f"GITHUB_RUN_ID={self.runs}",
            "--concurrent-jobs",
            "2",
            # Workspaces in this day's folder: not shared with other runs, and with no hidden
            # folder in their path (~/.cache/act), which BentoML refuses to build from.
            "--action-cache-path",
            str(self.state / "act"),
        ]
        if self.real_docker:
            command += ["--env", f"STANDIN_DOCKER={self.real_docker}"]
            command += ["--var", f"IMAGE_REGISTRY={self.registry}"]
            # Not ghcr.io: GITHUB_TOKEN cannot log in there, the repository's credentials do.
            command += ["--var", f"REGISTRY_USERNAME={REGISTRY_USER}"]
            command += ["--secret", "REGISTRY_PASSWORD=standin-registry-token"]
        for name, value in (variables or {}).items():
            command += ["--var", f"{name}={value}"]
        for name, value in (secrets or {}).items():
            command += ["--secret", f"{name}={value}"]
        for uses, _ in uses_in(wf):
            command += ["--local-repository", f"{uses}={ACTIONS / STANDINS[uses.split('@')[0]]}"]
        if job:
            command += ["-j", job]
        started = time.monotonic()
        result = run(command, self.project, check=False, env=self.env, timeout=900)
        (self.state / f"act-{self.runs}.log").write_text(result.stdout + result.stderr)
        return Run(workflow, result, self.runs, time.monotonic() - started, payload)

    def standins(self, since: int = 0) -> list[dict]:
        path = self.state / "standins.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()][since:]


class Run:
    def __init__(self, workflow: str, result, run_id: int, seconds: float, payload: dict):
        self.workflow, self.result, self.id, self.seconds = workflow, result, run_id, seconds
        self.payload = payload
        self.log = result.stdout + result.stderr
        self.steps: list[tuple[str, str, bool]] = []  # (job, step, success)
        for line in self.log.splitlines():
            m = STEP_LINE.match(line.strip())
            if m and m["phase"] == "Main":
                self.steps.append((m["job"], m["step"], m["mark"].startswith("✅")))

    @property
    def ok(self) -> bool:
        return self.result.returncode == 0

    def step(self, needle: str) -> bool | None:
        """Success of the (last) step named needle, else of the last whose name contains it
        ("make gate" is not "make gate-comparison"); None when no such step ran."""
        found = [ok for _, step, ok in self.steps if step == needle]
        found = found or [ok for _, step, ok in self.steps if needle in step]
        return found[-1] if found else None

    def report(self, scenario: str) -> str:
        lines = [
            f"[{scenario}] {self.workflow} run {self.id}: exit {self.result.returncode}, "
            f"{self.seconds:.1f}s"
        ]
        for job, step, ok in self.steps:
            if step.startswith('"$STANDIN_PYTHON"'):  # the stand-in's own inner step
                continue
            name = step.split("@")[0]
            kind = "stand-in" if name in STANDINS else "real"
            if name.startswith("make ") or step.startswith("make"):
                kind = "real (make)"
            lines.append(f"    {'ok  ' if ok else 'FAIL'} {kind:<12} {job}: {step[:90]}")
        text = "\n".join(lines)
        print(text)
        return text

    def fail(self, why: str) -> None:
        pytest.fail(f"{why}\n{self.log[-12000:]}")


def pr_payload(day: Day, number: int, branch: str, base_sha: str) -> dict:
    """The event of a push to pull request `number`; GitHub's state (the gh stand-in's store)
    then knows the pull request with that head, as pr-comment.yml checks."""
    head = day.git("rev-parse", "HEAD")
    repo = {"full_name": f"{OWNER}/{day.name}", "name": day.name, "owner": {"login": OWNER}}
    store = day.state / "github.json"
    data = json.loads(store.read_text()) if store.exists() else {}
    pulls = [p for p in data.get("pulls", []) if p.get("number") != number]
    pulls.append({"number": number, "head": branch, "head_sha": head, "state": "open"})
    store.write_text(json.dumps(data | {"pulls": pulls}, indent=1))
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": branch, "sha": head, "repo": repo},
            "base": {"ref": "main", "sha": base_sha, "repo": repo},
        },
        "repository": repo,
    }


def comment_payload(day: Day, pr_run: Run, branch: str) -> dict:
    repo = {"full_name": f"{OWNER}/{day.name}"}
    return {
        "action": "completed",
        "workflow_run": {
            "id": pr_run.id,
            "name": "pr",
            "event": "pull_request",
            "conclusion": "success" if pr_run.ok else "failure",
            "head_branch": branch,
            "head_sha": pr_run.payload["pull_request"]["head"]["sha"],
            "head_repository": repo,
        },
        "repository": repo,
    }


def comments(day: Day) -> list[dict]:
    store = day.state / "github.json"
    return json.loads(store.read_text()).get("comments", []) if store.exists() else []


def fast_params(day: Day) -> None:
    """Fewer resamples: the same pipeline, seconds instead of a minute."""
    day.edit_params(r"^(\s+resamples:) \d+", r"\1 200")


SABOTAGE = {
    "classification": "sklearn.dummy.DummyClassifier",
    "regression": "sklearn.dummy.DummyRegressor",
}


@pytest.mark.parametrize(
    ("options", "repository"),
    [
        ({}, None),
        ({"task": "regression", "dataset": "diabetes", "dvc_remote": "local"}, PRIVATE_FREE),
    ],
    ids=["default", "regression-diabetes-local-private-free"],
)
def test_github_day(options, repository, tmp_path, request):
    started = time.monotonic()
    full = not options  # the default variant also runs the `check` job (the project's pytest)
    registry = None
    if full:  # and releases a real image: one image build per run of the suite
        request.getfixturevalue("docker_engine")
        registry = request.getfixturevalue("local_registry")
    day = Day(tmp_path, registry=registry, repository=repository, **options)
    skip_without_targets(day.project, *FUTURE_TARGETS)
    task = options.get("task", "classification")
    marker = f"<!-- {day.name}-model-report -->"

    # main: the baked project with its pipeline's results committed, pushed to origin.
    fast_params(day)
    day.make("repro")
    base = day.commit("Initial project")
    day.git("push", "-q", "origin", "main")

    # Each scenario runs on one of the two days (the act day is CPU-bound: two days at once on
    # two cores take as long as both in a row).
    if full:
        scenario_1(day, base, marker)
    else:
        scenario_2(day, base, marker, task)

    # 3. Merge to main: the release workflow tags v0.1.0, builds the bento, pushes the image.
    day.git("checkout", "-q", "main")
    if full:
        day.git("merge", "-q", "--ff-only", "better-model")
        day.git("push", "-q", "origin", "main")
    push = first_release(day)
    if full:
        release_again_and_promote(day, push)
        pull_run_and_call(day)
        scenario_5_sweep(day)
    else:
        promote_unapproved(day)
        second_release(day)
        scenario_5_monitor(day)
    print(f"[github day] {day.name} {options or 'default'}: {time.monotonic() - started:.0f}s")


def scenario_1(day: Day, base: str, marker: str) -> None:
    """A pull request that improves the model: pr succeeds, summary, artifact, one comment."""
    day.git("checkout", "-q", "-b", "better-model")
    day.edit_params(r"^(\s+C:) [\d.]+", r"\1 0.5")
    day.make("repro")
    day.commit("Stronger regularisation")
    day.git("push", "-q", "origin", "better-model")
    pr = day.act(
        "pull_request",
        "pr.yml",
        pr_payload(day, 7, "better-model", base),
        job=None,  # both jobs: check (the project's pytest) and train
    )
    pr.report("1. improving PR")
    if not pr.ok:
        pr.fail("the PR workflow failed")
    # One job saves uv's cache (the same key for both); the other restores it.
    uv = [s for s in day.standins() if s["action"] == "astral-sh/setup-uv"]
    switches = {s["job"]: (s["inputs"]["restore-cache"], s["inputs"]["save-cache"]) for s in uv}
    assert switches == {"check": ("true", "true"), "train": ("true", "false")}, switches
    assert pr.step("make gate") is True and pr.step("make report") is True
    assert pr.step("make check") is True
    # act deletes GITHUB_STEP_SUMMARY with the job: the step that appends the report must pass.
    assert pr.step("Job summary") is True
    artifact = day.state / "artifacts" / str(pr.id) / "model-report"
    assert sorted(p.name for p in artifact.iterdir()) == ["gate.json", "pr-number", "report.md"]
    assert (artifact / "pr-number").read_text().strip() == "7"
    assert json.loads((artifact / "gate.json").read_text())["verdict"] == "BLESSED"

    comment = day.act("workflow_run", "pr-comment.yml", comment_payload(day, pr, "better-model"))
    comment.report("1. comment")
    assert comment.ok, comment.log[-4000:]
    assert len(comments(day)) == 1 and comments(day)[0]["body"].startswith(marker)
    first_id = comments(day)[0]["id"]

    (day.project / "README.md").write_text((day.project / "README.md").read_text() + "\nMore.\n")
    day.commit("Docs")
    day.git("push", "-q", "origin", "better-model")
    pr2 = day.act("pull_request", "pr.yml", pr_payload(day, 7, "better-model", base), job="train")
    pr2.report("1. second push")
    assert pr2.ok, pr2.log[-4000:]
    # Its dvc.lock is the first push's: the DVC cache that run saved (in this pull request's
    # scope) is restored, and `make repro` checks the outputs out instead of running a stage.
    (restore,) = [s for s in day.standins() if s["action"] == "actions/cache"][-1:]
    assert restore["hit"] is True and restore["ref"] == "refs/pull/7/merge", restore
    assert "Running stage" not in pr2.log and "didn't change, skipping" in pr2.log, pr2.log[-6000:]
    day.act("workflow_run", "pr-comment.yml", comment_payload(day, pr2, "better-model")).report(
        "1. comment again"
    )
    assert [c["id"] for c in comments(day)] == [first_id], "a second comment instead of an update"
    calls = [json.loads(x) for x in (day.state / "github-api.jsonl").read_text().splitlines()]
    methods = [c["method"] for c in calls if "comments" in c["path"]]
    assert methods == ["GET", "POST", "GET", "PATCH"], methods


def scenario_2(day: Day, base: str, marker: str, task: str) -> None:
    """2. A pull request with sabotaged params: fails at the gate, after the report is uploaded."""
    day.git("checkout", "-q", "-b", "sabotage", base)
    day.edit_params(r"estimator: \S+", f"estimator: {SABOTAGE[task]}")
    day.edit_params(r"^  params:\n(    .*\n)+", "  params: {}\n")
    day.commit("Sabotage")
    day.git("push", "-q", "origin", "sabotage")
    bad = day.act("pull_request", "pr.yml", pr_payload(day, 8, "sabotage", base), job="train")
    bad.report("2. sabotaged PR")
    assert not bad.ok, "the sabotaged PR passed"
    if bad.step("make report") is not True:
        bad.fail("make report did not run or failed after the failed gate")
    assert bad.step("make repro") is True and bad.step("make gate") is False
    assert bad.step("make report") is True and bad.step("upload-artifact") is True
    failed = [step for _, step, ok in bad.steps if not ok]
    # The sabotage commit changed params without `make repro`: CI's repro rewrote dvc.lock.
    assert failed == ["make gate", "make check-committed"], failed
    assert "Stale pipeline results" in bad.log and "fix: make repro && git add dvc.lock" in bad.log
    note = day.act("workflow_run", "pr-comment.yml", comment_payload(day, bad, "sabotage"))
    note.report("2. comment")
    body = next(c["body"] for c in comments(day) if c["issue"] == 8)
    assert body.startswith(marker) and "NOT BLESSED" in body.replace("NOT_BLESSED", "NOT BLESSED")


def release_head(day: Day, scenario: str) -> tuple[Run, dict]:
    """Run release.yml for a push of HEAD to main; fail the test when the workflow fails."""
    push = {
        "ref": "refs/heads/main",
        "after": day.git("rev-parse", "HEAD"),
        "repository": {"full_name": f"{OWNER}/{day.name}"},
    }
    release = day.act("push", "release.yml", push)
    release.report(scenario)
    if not release.ok:
        release.fail(f"{scenario}: the release workflow failed")
    return release, push


def docker_calls(day: Day) -> list[list[str]]:
    """The arguments of every docker command the recording fake received."""
    lines = (day.state / "docker.jsonl").read_text().splitlines()
    return [json.loads(line)["args"] for line in lines]


def first_release(day: Day) -> dict:
    """3. A push to main releases v0.1.0: tag, image tags, GitHub Release, attestation; returns
    the push event."""
    before = day.origin_tags()
    release, push = release_head(day, "3. release")
    tag = f"{day.name}@v0.1.0"
    assert day.origin_tags() - before == {tag}
    docker = docker_calls(day)
    image = day.image
    pushed = [a[-1] for a in docker if a[0] == "push"]
    assert pushed == [f"{image}:0.1.0", f"{image}:latest"], docker
    releases = json.loads((day.state / "github.json").read_text())["releases"]
    assert list(releases) == [tag] and releases[tag]["assets"]
    logins = [s for s in day.standins() if s["action"] == "docker/login-action"]
    assert [login["registry"] for login in logins] == [day.registry]
    if day.real_docker:  # a registry other than ghcr.io: the repository's own credentials
        assert logins[0]["inputs"]["username"] == REGISTRY_USER, logins
    # uv's cache: the release saves it for every pull request and restores none.
    uv = [s for s in day.standins() if s["action"] == "astral-sh/setup-uv"]
    switches = {
        s["job"]: (s["inputs"]["restore-cache"], s["inputs"]["save-cache"])
        for s in uv
        if s["workflow"] == "release"
    }
    assert switches == {"register": ("false", "true"), "publish": ("false", "false")}, switches
    attested = [s for s in day.standins() if s["action"] == "actions/attest-build-provenance"]
    if day.repository["visibility"] != "public":  # refused: warned, the release stands
        assert not attested and release.step("Warn when the attestation failed") is True
        return push
    assert attested and attested[-1]["subject"].startswith(f"{image}@sha256:")
    if day.real_docker:  # the attested digest is the registry's, for the version's tag
        name = image.split("/", 1)[1]
        digest = registry_digest(day.registry, name, "0.1.0")
        print(f"registry digest of {image}:0.1.0: {digest}")
        assert attested[-1]["subject"] == f"{image}@{digest}"
        assert registry_digest(day.registry, name, "latest") == digest
    return push


def release_again_and_promote(day: Day, push: dict) -> None:
    """3. The same push again releases nothing more; 4. promote v0.1.0 (tag and `:prod`), refuse
    an unknown version and hostile inputs."""
    before, image = day.origin_tags(), day.image
    assert f"{day.name}@v0.1.0" in before
    docker = docker_calls(day)
    if day.real_docker:
        name = image.split("/", 1)[1]
        digest, tags = (
            registry_digest(day.registry, name, "0.1.0"),
            registry_tags(day.registry, name),
        )
    again = day.act("push", "release.yml", push)
    again.report("3. release again, same commit")
    assert again.ok, again.log[-4000:]
    assert day.origin_tags() == before, "a second tag"
    docker_after = (day.state / "docker.jsonl").read_text().splitlines()
    assert len(docker_after) == len(docker), "pushed again"
    assert again.step("make package") is None
    if day.real_docker:
        assert registry_tags(day.registry, name) == tags == ["0.1.0", "latest"]
        assert registry_digest(day.registry, name, "0.1.0") == digest

    # 4. Promotion. GitHub creates the `prod` environment on first use without protection: on
    # this public repository the promotion is refused until it has required reviewers.
    before = day.origin_tags()
    dispatch = {"inputs": {"version": "v0.1.0", "stage": "prod"}}
    unprotected = day.act("workflow_dispatch", "promote.yml", dispatch)
    unprotected.report("4. promote to an unprotected prod")
    assert not unprotected.ok and unprotected.step("make environment-check") is False
    assert unprotected.step("make promote") is None and day.origin_tags() == before
    state = github_state(day)
    rules = [{"type": "required_reviewers", "reviewers": [{"type": "User", "login": OWNER}]}]
    state["environments"] = {"prod": {"name": "prod", "protection_rules": rules}}
    (day.state / "github.json").write_text(json.dumps(state, indent=1))
    # Then the stage tag appears; an unknown version fails and changes nothing.
    promote = day.act(
        "workflow_dispatch", "promote.yml", {"inputs": {"version": "v0.1.0", "stage": "prod"}}
    )
    promote.report("4. promote v0.1.0")
    assert promote.ok, promote.log[-4000:]
    assert day.origin_tags() - before == {f"{day.name}#prod#1"}
    pushed = [a[-1] for a in docker_calls(day) if a[0] == "push"]
    assert pushed[-1] == f"{image}:prod", pushed  # the stage's image tag follows the promotion
    if day.real_docker:
        assert registry_digest(day.registry, name, "prod") == digest
    before = day.origin_tags()
    unknown = day.act(
        "workflow_dispatch", "promote.yml", {"inputs": {"version": "v9.9.9", "stage": "prod"}}
    )
    unknown.report("4. promote an unknown version")
    assert not unknown.ok and "v9.9.9" in unknown.log
    assert day.origin_tags() == before

    # Hostile inputs (anyone who may dispatch): refused by the check step, before make runs
    # with the job's write token; the shell and make's $(...) run nothing.
    marker = day.state / "pwned"
    for version, stage in (
        (f"v0.1.0; touch {marker}", "prod"),
        (f"$(shell touch {marker})", "prod"),
        (f"v0.1.0$(touch {marker})", "prod"),
        ("v0.1.0", f"prod; touch {marker}"),
    ):
        inputs = {"inputs": {"version": version, "stage": stage}}
        hostile = day.act("workflow_dispatch", "promote.yml", inputs)
        hostile.report(f"4. promote hostile input {version!r} {stage!r}")
        assert not hostile.ok and hostile.step("check inputs") is False, hostile.log[-3000:]
        assert hostile.step("make promote") is None
    assert not marker.exists(), "a hostile input ran a command"
    assert day.origin_tags() == before


def promote_unapproved(day: Day) -> None:
    """4b. On a private repository GitHub offers no required reviewers (Free: not even
    environments): promote.yml warns that the promotion is unapproved, and promotes."""
    before = day.origin_tags()
    dispatch = {"inputs": {"version": "v0.1.0", "stage": "prod"}}
    promote = day.act("workflow_dispatch", "promote.yml", dispatch)
    promote.report("4b. promote on a private repository")
    assert promote.ok, promote.log[-4000:]
    assert promote.step("make environment-check") is True
    assert "Promotion without approval" in promote.log
    assert day.origin_tags() - before == {f"{day.name}#prod#1"}


def pull_run_and_call(day: Day) -> None:
    """3c. The released image, pulled back from the registry (the local copy removed first),
    runs and answers one good record with the released model's prediction."""
    image = f"{day.image}:0.1.0"
    docker("rmi", image, f"{day.image}:latest")
    started = time.monotonic()
    docker("pull", "--quiet", image, timeout=600)
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image))
    print(f"[3c] pulled {image} ({size / 1e6:.0f} MB) in {time.monotonic() - started:.0f} s")
    try:
        columns = yaml.safe_load((day.project / "contract.yaml").read_text())["columns"]
        features = [name for name, column in columns.items() if column["role"] == "feature"]
        rows = pd.read_parquet(day.project / "data" / "split" / "test.parquet")[features].head(1)
        expected = in_process_predictions(day.project, BIN.parent, 1)
        with running(image) as (url, _):
            body = {"records": records_of(rows, day.project)}
            response = requests.post(f"{url}/predict", json=body, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == expected
        assert response.json()["model_version"] == "v0.1.0"
    finally:
        docker("rmi", image, check=False)


def github_state(day: Day) -> dict:
    return json.loads((day.state / "github.json").read_text())


def scenario_5_monitor(day: Day) -> None:
    """5. monitor.yml: a batch like the training data is ok and opens nothing; a drifted batch
    opens ONE model-drift issue naming the shifted column and dispatches retrain.yml; a second
    alarm updates that issue."""
    data = day.project / "data" / "raw" / "dataset.csv"
    frame = pd.read_csv(data)
    # The three numeric features the model leans on most: drift is weighed by importance.
    numeric = set(frame.select_dtypes("number").columns)
    ranked = json.loads((day.project / "reports" / "importance.json").read_text())
    shifted = [row["feature"] for row in ranked if row["feature"] in numeric][:3]
    frame[shifted] = frame[shifted] + 3 * frame[shifted].std()
    frame.to_csv(day.state / "drifted.csv", index=False)
    dispatch = {"inputs": {}}
    idle = day.act("workflow_dispatch", "monitor.yml", dispatch)
    idle.report("5. monitor, not configured")
    assert idle.ok and idle.step("Check MONITOR_BATCH_COMMAND") is True, idle.log[-4000:]
    assert idle.step("make monitor") is None and "not configured" in idle.log
    variables = {"MONITOR_BATCH_COMMAND": "true", "MONITOR_BATCH": str(data)}
    calm = day.act("workflow_dispatch", "monitor.yml", dispatch, variables=variables)
    calm.report("5. monitor, training-like batch")
    assert calm.ok, calm.log[-4000:]
    assert calm.step("make drift-issue") is None and calm.step("make start-retrain") is None
    variables["MONITOR_BATCH"] = str(day.state / "drifted.csv")
    for attempt in (1, 2):
        alarm = day.act("workflow_dispatch", "monitor.yml", dispatch, variables=variables)
        alarm.report(f"5. monitor, drifted batch ({attempt})")
        assert alarm.ok, alarm.log[-4000:]
        assert alarm.step("make drift-issue") is True and alarm.step("make start-retrain") is True
    state = github_state(day)
    (issue,) = state["issues"]
    assert issue["labels"] == ["model-drift"] and issue["edits"] == 1
    assert "ALARM" in issue["body"] and all(f"`{name}`" in issue["body"] for name in shifted)
    assert [d["workflow"] for d in state["dispatches"]] == ["retrain.yml", "retrain.yml"]
    assert all(
        d["ref"] == "main" and "drift alarm" in d["inputs"]["reason"] for d in state["dispatches"]
    )


def scenario_5_sweep(day: Day) -> None:
    """5. sweep.yml: the plan job's matrix runs one job per point, each pushes its experiment to
    origin, and the rank job orders them by the primary metric in the job summary."""
    grid = json.dumps({"model.params.C": [0.1, 1.0]})
    sweep = day.act("workflow_dispatch", "sweep.yml", {"inputs": {"grid": grid, "max-parallel": 2}})
    sweep.report("5. sweep")
    assert sweep.ok, sweep.log[-6000:]
    points = [step for job, step, ok in sweep.steps if step == "make sweep-point" and ok]
    assert len(points) == 2, sweep.steps
    refs = run(["git", "for-each-ref", "refs/exps"], day.origin).stdout.splitlines()
    assert len(refs) == 2, refs
    # origin wanted the job's token: DVC's git library got it from GH_TOKEN (the sweep's jobs
    # persist no credentials, and dulwich would not read actions/checkout's includeIf).
    pushes = [r for r in day.origin_requests if r["method"] == "POST" and r["push"]]
    assert {r["token"] for r in pushes} >= {"ghs_standin"}, pushes
    assert sweep.step("make sweep-rank") is True and sweep.step("Job summary") is True


def second_release(day: Day) -> None:
    """3b. A docs-only merge to main mints no version: the model file is the latest version's
    (make model-changed), so no gate, no tag, no image. A merge that retrains the model releases
    the next version, with its own image tags and GitHub Release."""
    readme = day.project / "README.md"
    readme.write_text(readme.read_text() + "\nRelease notes live in the GitHub Releases.\n")
    day.commit("Docs: where release notes are")
    day.git("push", "-q", "origin", "main")
    before, pushes = day.origin_tags(), len(docker_calls(day))
    docs, _ = release_head(day, "3b. docs-only merge")
    assert day.origin_tags() == before, "a docs-only merge minted a version"
    assert docs.step("make model-changed") is True
    assert docs.step("make gate") is None and docs.step("make register") is None
    assert docs.step("make package") is None and len(docker_calls(day)) == pushes

    day.edit_params(r"^(\s+alpha:) [\d.]+", r"\1 3.0")  # runs on the regression day: Ridge
    day.make("repro")
    day.commit("Stronger regularisation")
    day.git("push", "-q", "origin", "main")
    second, _ = release_head(day, "3b. second release")
    # The gate had the champion's model (from the DVC remote or v0.1.0's GitHub Release).
    assert "Champion comparison: **paired**" in second.log, second.log[-6000:]
    (tag,) = day.origin_tags() - before
    assert tag.startswith(f"{day.name}@v0.") and tag != f"{day.name}@v0.1.0", tag
    version = tag.split("@v", 1)[1]
    pushed = [a[-1] for a in docker_calls(day) if a[0] == "push"]
    assert pushed[-2:] == [f"{day.image}:{version}", f"{day.image}:latest"]
    assert tag in github_state(day)["releases"]


def test_retrain_day(tmp_path):
    """A day of its own (the long days above stay as they are), on an organisation's private
    repository (Team): main with its first results, then a change the results do not reflect
    yet (standing in for refreshed data: retraining then has something to propose), then
    scenario 6, every gh call held to its job's permissions."""
    started = time.monotonic()
    day = Day(tmp_path, repository=ORGANISATION)
    fast_params(day)
    day.make("repro")
    day.commit("Initial project")
    day.edit_params(r"^(\s+C:) [\d.]+", r"\1 0.5")
    day.commit("Stronger regularisation")
    day.git("push", "-q", "origin", "main")
    scenario_6_retrain(day, f"<!-- {day.name}-model-report -->")
    print(f"[retrain day] {day.name}: {time.monotonic() - started:.0f}s")


def scenario_6_retrain(day: Day, marker: str) -> None:
    """6. retrain.yml as on a runner: `make setup` makes .venv and installs the git hooks, so the
    retraining commit goes through them. Its pull request, opened with the PR_TOKEN secret,
    queues GitHub's pull_request event (the gh stand-in's rule: GITHUB_TOKEN's would start
    nothing); pr.yml runs for that event and pr-comment.yml posts its report on it."""
    store = day.state / "github.json"
    before = len(github_state(day).get("pulls", [])) if store.exists() else 0
    retrain = day.act(
        "workflow_dispatch",
        "retrain.yml",
        {"inputs": {"reason": "drift alarm"}},
        secrets={"PR_TOKEN": "github_pat_standin"},
        runner_setup=True,
    )
    retrain.report("6. retrain with the hooks installed")
    if not retrain.ok:
        retrain.fail("retrain.yml failed")
    assert retrain.step("make setup") is True and retrain.step("make retrain-branch") is True
    # make setup installed the hooks; the retraining commit passed them (git runs them).
    assert "pre-commit installed at .git/hooks/pre-commit" in retrain.log
    assert "Pull request will not be trained" not in retrain.log
    state = github_state(day)
    (pull,) = state["pulls"][before:]
    (event,) = [e for e in state["events"] if e["number"] == pull["number"]]
    assert event["head"].startswith("retrain/") and event["head_sha"] == pull["head_sha"]

    # GitHub runs pr.yml for the event; then pr-comment.yml for that run.
    day.git("fetch", "-q", "origin", event["head"])
    day.git("checkout", "-q", "--detach", event["head_sha"])
    base = day.git("rev-parse", "main")
    payload = pr_payload(day, event["number"], event["head"], base)
    trained = day.act("pull_request", "pr.yml", payload, job="train")
    trained.report("6. pr.yml on the retrain pull request")
    if not trained.ok:
        trained.fail("pr.yml failed on the retrain pull request")
    assert trained.step("make gate") is True and trained.step("make check-committed") is True
    note = day.act("workflow_run", "pr-comment.yml", comment_payload(day, trained, event["head"]))
    note.report("6. comment on the retrain pull request")
    assert note.ok, note.log[-4000:]
    (body,) = [c["body"] for c in comments(day) if c["issue"] == event["number"]]
    assert body.startswith(marker)
    day.git("checkout", "-q", "main")
