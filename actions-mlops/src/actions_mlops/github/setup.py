"""`actions-mlops ci github-setup` and `ci github-doctor`: the repository settings the README's
"Repository settings, in order" asks for, made (setup) or checked read-only (doctor) through
the user's own `gh` login (`gh api`, argument lists, no shell).

What GitHub offers depends on the repository's visibility and its owner's plan: on Free, Pro and
Team, environments' required reviewers exist only for public repositories (private ones need
Enterprise); a private repository on Free has no environments and no rulesets; provenance
attestations need a public repository or Enterprise. Each setting the repository cannot have is
one line saying what the project does instead; doctor prints one line per problem, exit 1.

The repository is $GH_REPO (OWNER/NAME, as gh reads it) or origin's GitHub address.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from actions_mlops.core.config import load_params

WORKFLOWS = Path(".github/workflows")
BRANCH_RULESET = "release branch: pull requests and pr.yml's checks"
TAG_RULESET = "registry tags: created, never moved or deleted"
NO_ENVIRONMENTS = (
    "a private repository on GitHub Free has no environments: promote.yml promotes without "
    "approval (limit who has write access, or make the repository public or upgrade)"
)

# Item 5 of issue 27: release.yml, retrain.yml and sweep.yml write an s3/gs/azure remote with
# the credentials of the `dvc-write` environment (and a write role trusting only that
# environment's OIDC subject); the read-only ones cannot write.
NO_DVC_WRITE = (
    "environment dvc-write: a private repository on GitHub Free has no environments, so "
    "release.yml, retrain.yml and sweep.yml get no write access to the DVC remote: make the "
    "repository public, or move it to GitHub Pro (a user's) or Team (an organisation's)"
)


class GitHubError(Exception):
    """A `gh api` call GitHub refused: its last line of error output."""


@dataclass(frozen=True)
class Repository:
    """The repository, its visibility, its owner's plan ("" when not readable) and the user."""

    slug: str
    public: bool
    organisation: bool
    plan: str
    user: str
    user_id: int

    @property
    def environments(self) -> bool:
        return self.public or self.plan != "free"

    @property
    def reviewers(self) -> bool:
        return self.public or self.plan in ("enterprise", "")

    @property
    def rulesets(self) -> bool:
        return self.public or self.plan != "free"

    @property
    def attestations(self) -> bool:
        return self.public or self.plan == "enterprise"


def gh(path: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    """One `gh api` call: its JSON answer; GitHubError with GitHub's message when refused."""
    command = ["gh", "api", "--method", method, path]
    if body is not None:
        command += ["--input", "-"]
    text = json.dumps(body) if body is not None else None
    try:
        done = subprocess.run(command, input=text, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GitHubError("gh is not installed: https://cli.github.com") from None
    if done.returncode:
        lines = done.stderr.strip().splitlines() or [f"gh exited {done.returncode}"]
        raise GitHubError(lines[-1])
    return json.loads(done.stdout) if done.stdout.strip() else {}


def missing(path: str) -> Any:
    """The answer at `path`, or None when GitHub has nothing there (HTTP 404)."""
    try:
        return gh(path)
    except GitHubError as error:
        if "404" in str(error):
            return None
        raise


def slug() -> str:
    """OWNER/NAME from $GH_REPO or origin's GitHub address."""
    if os.environ.get("GH_REPO"):
        return os.environ["GH_REPO"].removeprefix("github.com/")
    url = subprocess.run(
        ["git", "remote", "get-url", "origin"], capture_output=True, text=True, check=False
    ).stdout.strip()
    found = re.search(r"github\.com[:/]([^/]+/[^/]+?)(\.git)?/?$", url)
    if not found:
        raise GitHubError(f"origin {url or '(none)'} is not on github.com: set GH_REPO=OWNER/NAME")
    return found.group(1)


def repository() -> Repository:
    """Visibility from `repos/{slug}`, the plan from the owner (orgs/ or user, when readable)."""
    name = slug()
    repo = gh(f"repos/{name}")
    user = gh("user")
    owner = repo["owner"]
    organisation = owner.get("type") == "Organization"
    plan = ""
    if organisation:
        plan = ((missing(f"orgs/{owner['login']}") or {}).get("plan") or {}).get("name", "")
    elif owner["login"] == user["login"]:
        plan = (user.get("plan") or {}).get("name", "")
    public = repo.get("visibility", "private" if repo.get("private") else "public") == "public"
    return Repository(name, public, organisation, plan.lower(), user["login"], user["id"])


def required_checks() -> list[str]:
    """The names of pr.yml's jobs: the status checks a pull request needs."""
    jobs = yaml.safe_load((WORKFLOWS / "pr.yml").read_text(encoding="utf-8"))["jobs"]
    return [job.get("name", key) for key, job in jobs.items()]


def environments() -> list[str]:
    """The environments the project's workflows need: the champion's stage, and `dvc-write`
    when a workflow names it."""
    names = [load_params().registry.champion_stage]
    texts = [path.read_text(encoding="utf-8") for path in sorted(WORKFLOWS.glob("*.yml"))]
    return names + (["dvc-write"] if any("environment: dvc-write" in t for t in texts) else [])


@dataclass
class Setting:
    """One thing the README asks for: `problem()` is None when it is right; `make()` sets it."""

    title: str
    problem: Callable[[], str | None]
    make: Callable[[], None]
    limit: str | None = None  # what the project does instead when the repository cannot have it
    breaks: bool = False  # the limit stops a workflow: setup and doctor fail on it


def environment(repo: Repository, name: str) -> Setting:
    """An environment limited to the release branch; the stage's with the user as reviewer."""
    branch = load_params().registry.branch
    with_reviewer = repo.reviewers and name != "dvc-write"
    base = f"repos/{repo.slug}/environments/{name}"

    def problem() -> str | None:
        found = missing(base)
        if found is None:
            return f"environment {name} does not exist (GitHub creates it unprotected on first use)"
        rules = {rule.get("type") for rule in found.get("protection_rules") or []}
        if with_reviewer and "required_reviewers" not in rules:
            return f"environment {name} has no required reviewers"
        policy = found.get("deployment_branch_policy") or {}
        listed = (missing(f"{base}/deployment-branch-policies") or {}).get("branch_policies", [])
        if not policy.get("custom_branch_policies") or [p["name"] for p in listed] != [branch]:
            return f"environment {name}: deployment branches are not limited to {branch}"
        return None

    def make() -> None:
        policy = {"protected_branches": False, "custom_branch_policies": True}
        body: dict[str, Any] = {"deployment_branch_policy": policy}
        if with_reviewer:
            body["reviewers"] = [{"type": "User", "id": repo.user_id}]
        gh(base, "PUT", body)
        listed = gh(f"{base}/deployment-branch-policies").get("branch_policies", [])
        if branch not in [p["name"] for p in listed]:
            gh(f"{base}/deployment-branch-policies", "POST", {"name": branch, "type": "branch"})

    limit = None if repo.environments else f"environment {name}: {NO_ENVIRONMENTS}"
    if name == "dvc-write" and not repo.environments:
        return Setting(f"environment {name}", problem, make, NO_DVC_WRITE, breaks=True)
    return Setting(f"environment {name}", problem, make, limit)


def lacking(found: dict[str, Any], wanted: dict[str, Any]) -> str | None:
    """What a ruleset GitHub returned lacks of the wanted one (GitHub adds fields of its own:
    extra ones are fine), or None."""
    if found.get("enforcement") != "active":
        return f"enforcement is {found.get('enforcement')}, not active"
    include = ((found.get("conditions") or {}).get("ref_name") or {}).get("include", [])
    for ref in wanted["conditions"]["ref_name"]["include"]:
        if ref not in include:
            return f"does not include {ref}"
    rules = {rule["type"]: rule.get("parameters") or {} for rule in found.get("rules") or []}
    for rule in wanted["rules"]:
        if rule["type"] not in rules:
            return f"no {rule['type']} rule"
        have = rules[rule["type"]]
        for key, value in (rule.get("parameters") or {}).items():
            if isinstance(value, list):
                names = {item.get("context") for item in have.get(key) or []}
                absent = [item["context"] for item in value if item["context"] not in names]
                if absent:
                    return f"{rule['type']} lacks {', '.join(absent)}"
            elif key.startswith("strict") and have.get(key) != value:
                return f"{rule['type']}: {key} is not {value}"
    return None


def ruleset(repo: Repository, target: str, name: str, body: dict[str, Any]) -> Setting:
    """A ruleset found by name: created when missing, its rules compared when present."""
    body = {"name": name, "target": target, "enforcement": "active"} | body

    def find() -> dict[str, Any] | None:
        listed = missing(f"repos/{repo.slug}/rulesets") or []
        ids = [r["id"] for r in listed if r.get("name") == name and r.get("target") == target]
        return gh(f"repos/{repo.slug}/rulesets/{ids[0]}") if ids else None

    def problem() -> str | None:
        found = find()
        if found is None:
            return f"no {target} ruleset {name!r}"
        lacks = lacking(found, body)
        if lacks:
            return f"{target} ruleset {name!r}: {lacks}"
        return None

    def make() -> None:
        found = find()
        if found is None:
            gh(f"repos/{repo.slug}/rulesets", "POST", body)
        else:
            gh(f"repos/{repo.slug}/rulesets/{found['id']}", "PUT", body)

    limit = None
    if not repo.rulesets:
        limit = f"{target} ruleset: a private repository on GitHub Free has no rulesets: " + (
            "protect main by habit (pull requests only) or make the repository public"
            if target == "branch"
            else "anyone with write access can move or delete the registry's tags"
        )
    return Setting(f"{target} ruleset", problem, make, limit)


def settings(repo: Repository) -> list[Setting]:
    """Everything the README's "Repository settings, in order" asks for, in its order."""
    params = load_params().registry
    checks = [{"context": name} for name in required_checks()]
    pull_request = {
        "dismiss_stale_reviews_on_push": False,
        "require_code_owner_review": False,
        "require_last_push_approval": False,
        "required_approving_review_count": 0,
        "required_review_thread_resolution": False,
    }
    branch_rules = {
        "conditions": {"ref_name": {"include": [f"refs/heads/{params.branch}"], "exclude": []}},
        "rules": [
            {"type": "pull_request", "parameters": pull_request},
            {
                "type": "required_status_checks",
                "parameters": {
                    "strict_required_status_checks_policy": True,
                    "required_status_checks": checks,
                },
            },
        ],
    }
    tags = [f"refs/tags/{params.model}@v*", f"refs/tags/{params.model}#*"]
    tag_rules = {
        "conditions": {"ref_name": {"include": tags, "exclude": []}},
        "rules": [{"type": "update"}, {"type": "deletion"}],
    }
    permissions = f"repos/{repo.slug}/actions/permissions/workflow"

    def actions_problem() -> str | None:
        if not gh(permissions).get("can_approve_pull_request_reviews"):
            return "Actions may not create pull requests (Settings -> Actions -> General)"
        return None

    def actions_make() -> None:
        wanted = {"default_workflow_permissions": "read", "can_approve_pull_request_reviews": True}
        gh(permissions, "PUT", wanted)

    variable = f"repos/{repo.slug}/actions/variables"

    def attest_problem() -> str | None:
        if repo.attestations:
            return None
        if (missing(f"{variable}/ATTEST_PROVENANCE") or {}).get("value") != "false":
            return "variable ATTEST_PROVENANCE is not false: this repository cannot attest"
        return None

    def attest_make() -> None:
        if repo.attestations:
            return
        if missing(f"{variable}/ATTEST_PROVENANCE") is None:
            gh(variable, "POST", {"name": "ATTEST_PROVENANCE", "value": "false"})
        else:
            gh(f"{variable}/ATTEST_PROVENANCE", "PATCH", {"value": "false"})

    notes = []
    if repo.environments and not repo.reviewers:
        stage = params.champion_stage
        note = (
            f"required reviewers on {stage}: on a private repository they need GitHub "
            "Enterprise: promote.yml warns that its promotions are unapproved (limit who has "
            "write access, or make the repository public)"
        )
        notes.append(Setting(f"reviewers on {stage}", lambda: None, lambda: None, note))
    return [
        Setting("Actions may create pull requests", actions_problem, actions_make),
        ruleset(repo, "branch", BRANCH_RULESET, branch_rules),
        *(environment(repo, name) for name in environments()),
        *notes,
        ruleset(repo, "tag", TAG_RULESET, tag_rules),
        Setting("variable ATTEST_PROVENANCE", attest_problem, attest_make),
    ]


def doctor_only(repo: Repository) -> list[str]:
    """What setup cannot make: the PR_TOKEN secret, disabled scheduled workflows."""
    problems = []
    if missing(f"repos/{repo.slug}/actions/secrets/PR_TOKEN") is None:
        problems.append(
            "secret PR_TOKEN is missing: pull requests opened by retrain.yml, sweep.yml and "
            "template-update.yml are not trained (README step 1; its scopes cannot be read)"
        )
    listed = (missing(f"repos/{repo.slug}/actions/workflows") or {}).get("workflows", [])
    for flow in listed:
        if flow.get("state", "active") != "active":
            problems.append(
                f"workflow {Path(flow['path']).name} is {flow['state']}: Actions -> "
                f"{flow.get('name', flow['path'])} -> Enable workflow"
            )
    return problems + package_problems(repo)


def package_problems(repo: Repository) -> list[str]:
    """A public repository's image kept private (GHCR makes an organisation's packages private
    at first): pulling it needs a login. Unreadable (gh's login lacks read:packages): no line."""
    owner = repo.slug.split("/")[0]
    name = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    kind = "orgs" if repo.organisation else "users"
    try:
        package = missing(f"{kind}/{owner}/packages/container/{name}")
    except GitHubError:
        return []
    if repo.public and package and package.get("visibility") == "private":
        image = f"ghcr.io/{owner.lower()}/{name}"
        return [f"image {image} is private: pulling it needs a login (README: The image on GHCR)"]
    return []


def setup() -> int:
    """Make each setting the repository can have; one line for each it cannot."""
    try:
        repo = repository()
        failed = 0
        print(f"github-setup: {repo.slug} ({describe(repo)})")
        for setting in settings(repo):
            if setting.limit:
                print(f"cannot: {setting.limit}", file=sys.stderr if setting.breaks else sys.stdout)
                failed += setting.breaks
                continue
            try:
                if setting.problem() is None:
                    print(f"ok: {setting.title}")
                    continue
                setting.make()
                print(f"made: {setting.title}")
            except GitHubError as error:
                failed += 1
                print(f"refused: {setting.title}: {error}", file=sys.stderr)
    except GitHubError as error:
        print(f"github-setup: {error}", file=sys.stderr)
        return 1
    return 1 if failed else 0


def doctor() -> int:
    """Check each setting without changing anything: one line per problem, exit 1 when any."""
    try:
        repo = repository()
        problems: list[str] = []
        limits: list[str] = []
        for setting in settings(repo):
            if setting.limit:
                (problems if setting.breaks else limits).append(setting.limit)
                continue
            found = setting.problem()
            if found:
                problems.append(f"{found}: make github-setup")
        problems += doctor_only(repo)
    except GitHubError as error:
        print(f"github-doctor: {error}", file=sys.stderr)
        return 1
    for line in limits:
        print(f"limit: {line}")
    for line in problems:
        print(f"problem: {line}")
    if not problems:
        print(f"github-doctor: {repo.slug} ({describe(repo)}): no problems")
    return 1 if problems else 0


def describe(repo: Repository) -> str:
    """`public, organisation, plan team` and the like."""
    owner = "organisation" if repo.organisation else "user"
    visibility = "public" if repo.public else "private"
    return f"{visibility}, {owner}, plan {repo.plan or 'not readable'}"
