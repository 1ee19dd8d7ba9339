"""Local stand-ins for the remote actions the generated workflows use, run by `act`.

Each tests/actions/<owner>-<repo>/action.yml is a composite action declaring the inputs of the
real action at the pinned version and calling `python standin.py <name>` with them as INPUT_*
variables. The harness (tests/test_github.py) passes STANDIN_STATE: the folder holding the bare
origin, artifacts shared between runs and the log of every stand-in call.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ["STANDIN_STATE"])
sys.path.insert(0, str(Path(__file__).parent))
import gitserver  # noqa: E402


def inputs() -> dict[str, str]:
    return {k[6:].lower(): v for k, v in os.environ.items() if k.startswith("INPUT_") and v != ""}


def record(action: str, **extra) -> None:
    entry = {
        "action": action,
        "workflow": os.environ.get("GITHUB_WORKFLOW"),
        "job": os.environ.get("GITHUB_JOB"),
        "inputs": {
            k: ("***" if "token" in k or k == "password" else v) for k, v in inputs().items()
        },
        **extra,
    }
    with (STATE / "standins.jsonl").open("a") as log:
        log.write(json.dumps(entry) + "\n")


def output(**values: str) -> None:
    with open(os.environ["GITHUB_OUTPUT"], "a") as out:
        for key, value in values.items():
            out.write(f"{key}={value}\n")


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, text=True, capture_output=True)
    if result.returncode:
        sys.exit(f"checkout stand-in: git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()


def pull_request_merge() -> tuple[str, str] | None:
    """For a `pull_request` event, what GitHub checks out: (refs/pull/N/merge, its SHA), the
    pull request's head merged into its base branch's current tip (first parent: the base),
    made here in origin as GitHub's server makes it. act hands a `pull_request` job the head's
    SHA instead. A head that conflicts with its base gets no merge commit, and GitHub runs no
    `pull_request` workflow for it: the stand-in stops with that. None for other events."""
    if os.environ.get("GITHUB_EVENT_NAME") != "pull_request":
        return None
    event = json.loads(Path(os.environ["GITHUB_EVENT_PATH"]).read_text())
    number, pull = event["number"], event["pull_request"]
    head, base = pull["head"]["sha"], f"refs/heads/{pull['base']['ref']}"
    origin = STATE / "origin.git"
    merge_tree = ["git", "merge-tree", "--write-tree", base, head]
    merged = subprocess.run(merge_tree, cwd=origin, text=True, capture_output=True)
    if merged.returncode:
        sys.exit(
            f"checkout stand-in: pull request #{number} conflicts with {base}: GitHub makes no "
            f"merge commit and runs no pull_request workflow\n{merged.stdout}{merged.stderr}"
        )
    tree = merged.stdout.split()[0]
    base_sha = git("rev-parse", base, cwd=origin)
    ref = f"refs/pull/{number}/merge"
    # One merge per head and base, as on GitHub: every job of the run checks out the same SHA.
    known = subprocess.run(
        ["git", "rev-list", "--parents", "-n", "1", ref], cwd=origin, text=True, capture_output=True
    ).stdout.split()
    if known[1:] == [base_sha, head]:
        return ref, known[0]
    # Dated as the head: two jobs starting at once make the same commit, not two.
    date = git("log", "-1", "--format=%cI", head, cwd=origin)
    github = {"GIT_AUTHOR_NAME": "GitHub", "GIT_AUTHOR_EMAIL": "noreply@github.com"}
    github |= {"GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}
    github |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    message = f"Merge {head} into {base_sha}"
    sha = subprocess.run(
        ["git", "commit-tree", tree, "-p", base_sha, "-p", head, "-m", message],
        cwd=origin,
        text=True,
        capture_output=True,
        check=True,
        env=os.environ | github,
    ).stdout.strip()
    git("update-ref", ref, sha, cwd=origin)
    git("update-ref", f"refs/pull/{number}/head", head, cwd=origin)
    return ref, sha


def checkout() -> None:
    """Clone the bare origin at the event's SHA (or `ref`), like actions/checkout; for a
    `pull_request` event with no `ref`, the merge commit GitHub checks out. With
    STANDIN_ORIGIN_URL (origin served over HTTP, tests/actions/gitserver.py) it fetches with the
    `token` input and, for `persist-credentials: true`, keeps the token as actions/checkout v6+
    does: in a config file under RUNNER_TEMP that the repository's config includes (includeIf),
    which git reads and DVC's git library does not."""
    i = inputs()
    workspace = Path(os.environ["GITHUB_WORKSPACE"]) / i.get("path", "")
    workspace.mkdir(parents=True, exist_ok=True)
    served = os.environ.get("STANDIN_ORIGIN_URL")
    origin = served or str(STATE / "origin.git")
    token = i.get("token", "")
    depth = int(i.get("fetch-depth", "1"))
    fetch_tags = i.get("fetch-tags", "false") == "true"
    ref = i.get("ref") or os.environ["GITHUB_SHA"]
    merge = None if i.get("ref") else pull_request_merge()
    if merge:
        ref = merge[1]
    git("init", "-q", cwd=workspace)
    git("remote", "add", "origin", origin, cwd=workspace)
    # The fetch itself authenticates with the token, nothing kept (as actions/checkout).
    auth = ["-c", f"http.extraheader={gitserver.header(token)}"] if served and token else []
    if depth == 0:  # the whole history: every branch and every tag
        heads = "+refs/heads/*:refs/remotes/origin/*"
        pull = [f"+{merge[0]}:refs/remotes/{merge[0][5:]}"] if merge else []
        git(*auth, "fetch", "-q", "--tags", origin, heads, *pull, cwd=workspace)
    else:
        tags = ["--tags"] if fetch_tags else ["--no-tags"]
        target = merge[0] if merge else ref if len(ref) == 40 else f"refs/tags/{ref}"
        heads = "+refs/heads/*:refs/remotes/origin/*"
        git(*auth, "fetch", "-q", f"--depth={depth}", *tags, origin, target, heads, cwd=workspace)
    for candidate in (ref, f"refs/tags/{ref}", f"refs/remotes/origin/{ref}", "FETCH_HEAD"):
        sha = subprocess.run(
            ["git", "rev-parse", "-q", "--verify", f"{candidate}^{{commit}}"],
            cwd=workspace,
            text=True,
            capture_output=True,
        ).stdout.strip()
        if sha:
            break
    git("checkout", "-q", "--detach", sha, cwd=workspace)
    if served and token and i.get("persist-credentials", "true") != "false":
        base = served.rsplit("/", 1)[0]
        temp = Path(os.environ.get("RUNNER_TEMP") or STATE)
        gitserver.persist_credentials(workspace, base, token, temp)
    if i.get("persist-credentials", "true") == "false":
        # No token left behind: a push fails, as it does on GitHub without credentials.
        git(
            "config",
            "remote.origin.pushurl",
            "/nonexistent/persist-credentials-is-false",
            cwd=workspace,
        )
    if merge and sha != merge[1]:
        sys.exit(f"checkout stand-in: fetched {sha}, not the merge commit {merge[1]}")
    record("actions/checkout", sha=sha, ref=merge[0] if merge else ref)


def setup_python() -> None:
    """The test's interpreter (and the tools of its environment) first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    with open(os.environ["GITHUB_PATH"], "a") as path:
        path.write(bin_dir + "\n")
    version = ".".join(map(str, sys.version_info[:3]))
    output(**{"python-version": version, "python-path": sys.executable, "cache-hit": "false"})
    record("actions/setup-python", interpreter=sys.executable)


def setup_uv() -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        sys.exit("setup-uv stand-in: no uv next to the test's interpreter")
    with open(os.environ["GITHUB_PATH"], "a") as path:
        path.write(str(Path(uv).parent) + "\n")
    output(**{"uv-path": uv, "cache-hit": "false"})
    record("astral-sh/setup-uv", uv=uv)


def cache_scopes() -> list[str]:
    """The refs whose caches a run may restore, in GitHub's order: the run's own ref (a pull
    request's is refs/pull/N/merge), the pull request's base branch, the default branch. Never a
    sibling's: one pull request cannot read another's cache."""
    base = os.environ.get("GITHUB_BASE_REF")
    scopes = [os.environ["GITHUB_REF"], f"refs/heads/{base}" if base else "", "refs/heads/main"]
    return list(dict.fromkeys(scope for scope in scopes if scope))


def cache_index() -> list[dict]:
    path = STATE / "cache" / "index.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def cache_paths() -> list[Path]:
    workspace = Path(os.environ["GITHUB_WORKSPACE"])
    return [workspace / p.strip() for p in inputs()["path"].splitlines() if p.strip()]


def cache_lookup(key: str, restore_keys: list[str]) -> tuple[dict | None, bool]:
    """(entry, exact): per scope, the key itself, then each restore key as a prefix (newest)."""
    entries = cache_index()
    for scope in cache_scopes():
        mine = [e for e in entries if e["scope"] == scope]
        exact = [e for e in mine if e["key"] == key]
        if exact:
            return exact[-1], True
        for prefix in restore_keys:
            partial = [e for e in mine if e["key"].startswith(prefix)]
            if partial:
                return partial[-1], False
    return None, False


def cache() -> None:
    """actions/cache's restore: the entry copied into `path` unless lookup-only; cache-hit is
    true only for the key itself."""
    i = inputs()
    restore_keys = [k.strip() for k in i.get("restore-keys", "").splitlines() if k.strip()]
    entry, exact = cache_lookup(i["key"], restore_keys)
    lookup_only = i.get("lookup-only", "false") == "true"
    restored = entry["key"] if entry and not lookup_only else None
    record("actions/cache", ref=os.environ["GITHUB_REF"], hit=exact, restored=restored)
    if entry and not lookup_only:
        for index, path in enumerate(cache_paths()):
            saved = STATE / "cache" / entry["folder"] / str(index)
            if saved.exists():
                shutil.copytree(saved, path, symlinks=True, dirs_exist_ok=True)
        print(f"Cache restored from key: {entry['key']} ({entry['scope']})")
    else:
        print(f"Cache not found for input keys: {i['key']}" if not entry else "Lookup only")
    output(**{"cache-hit": "true" if exact else "false"})


def cache_save() -> None:
    """actions/cache's post step: save `path` under the key in the run's own ref, unless the
    key was found (entries are immutable) or nothing is there to save."""
    i = inputs()
    if cache_lookup(i["key"], [])[1]:
        print(f"Cache hit occurred on the primary key {i['key']}, not saving cache.")
        return
    paths = cache_paths()
    if not any(path.exists() for path in paths):
        print(f"Warning: Path Validation Error: no path of {i['path']!r} exists")
        return
    folder = f"{len(cache_index()) + 1}"
    for index, path in enumerate(paths):
        if path.exists():
            shutil.copytree(path, STATE / "cache" / folder / str(index), symlinks=True)
    entry = {"scope": os.environ["GITHUB_REF"], "key": i["key"], "folder": folder}
    with (STATE / "cache" / "index.jsonl").open("a") as index_file:
        index_file.write(json.dumps(entry) + "\n")
    record("actions/cache (post)", ref=entry["scope"], saved=entry["key"])
    print(f"Cache saved with key: {i['key']}")


def artifact_dir(name: str, run_id: str | None = None) -> Path:
    return STATE / "artifacts" / (run_id or os.environ["GITHUB_RUN_ID"]) / name


def upload_artifact() -> None:
    """Copy the paths to the artifact store shared by every run of the test."""
    i = inputs()
    workspace = Path(os.environ["GITHUB_WORKSPACE"])
    paths = [workspace / p.strip() for p in i["path"].splitlines() if p.strip()]
    found = [p for p in paths if p.exists()]
    if not found:
        if i.get("if-no-files-found", "warn") == "error":
            sys.exit(f"upload-artifact stand-in: no files found at {i['path']!r}")
        print(f"warning: no files found at {i['path']!r}")
        return
    target = artifact_dir(i.get("name", "artifact"))
    if target.exists() and i.get("overwrite", "false") != "true":
        sys.exit(f"upload-artifact stand-in: artifact {target.name!r} exists in this run")
    shutil.rmtree(target, ignore_errors=True)
    # One path that is a folder: its contents; several: relative to their common ancestor.
    root = found[0] if len(found) == 1 and found[0].is_dir() else Path(os.path.commonpath(found))
    if root.is_file():
        root = root.parent
    for path in found:
        if path.is_dir():
            shutil.copytree(path, target / path.relative_to(root), dirs_exist_ok=True)
        else:
            (target / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.relative_to(root))
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    record("actions/upload-artifact", stored=str(target), files=files)
    output(**{"artifact-id": "1", "artifact-url": f"file://{target}"})


def download_artifact() -> None:
    i = inputs()
    source = artifact_dir(i["name"], i.get("run-id"))
    if not source.is_dir():
        sys.exit(
            f"download-artifact stand-in: no artifact {i['name']!r} in run {source.parent.name}"
        )
    dest = Path(os.environ["GITHUB_WORKSPACE"]) / i.get("path", "")
    shutil.copytree(source, dest, dirs_exist_ok=True)
    record("actions/download-artifact", source=str(source), dest=str(dest))
    output(**{"download-path": str(dest)})


def upload_pages_artifact() -> None:
    """The folder as the real action packs it: artifact.tar of its contents, .git and .github
    left out, stored as the run's artifact `name` (github-pages)."""
    i = inputs()
    folder = Path(os.environ["GITHUB_WORKSPACE"]) / i["path"]
    if not folder.is_dir():
        sys.exit(f"upload-pages-artifact stand-in: no folder {i['path']!r}")
    target = artifact_dir(i.get("name", "github-pages"))
    target.mkdir(parents=True, exist_ok=True)
    tar = ["tar", "--dereference", "--directory", str(folder), "-cf", str(target / "artifact.tar")]
    subprocess.run([*tar, "--exclude=.git", "--exclude=.github", "."], check=True)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    record("actions/upload-pages-artifact", stored=str(target), files=files)
    output(artifact_id="1")


def deploy_pages() -> None:
    """Deploy the run's pages artifact: unpacked into pages/ of the state (the published site)."""
    i = inputs()
    source = artifact_dir(i.get("artifact_name", "github-pages")) / "artifact.tar"
    if not source.is_file():
        sys.exit(f"deploy-pages stand-in: no pages artifact in run {os.environ['GITHUB_RUN_ID']}")
    site = STATE / "pages"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir()
    subprocess.run(["tar", "-xf", str(source), "--directory", str(site)], check=True)
    owner, name = os.environ["GITHUB_REPOSITORY"].split("/")
    url = f"https://{owner.lower()}.github.io/{name}/"
    record("actions/deploy-pages", site=str(site), url=url)
    output(page_url=url)


def docker_login() -> None:
    i = inputs()
    if not i.get("password"):
        sys.exit("docker/login-action stand-in: empty password")
    record("docker/login-action", registry=i.get("registry", "docker.io"))


def attest_build_provenance() -> None:
    """Refused where GitHub refuses it: a private repository whose owner is not on Enterprise
    (the repository as the gh stand-in's github.json describes it; public when not given)."""
    store = STATE / "github.json"
    repository = (json.loads(store.read_text()) if store.exists() else {}).get("repository", {})
    plan = repository.get("plan", "free")
    if repository.get("visibility", "public") != "public" and plan != "enterprise":
        sys.exit(
            "attest-build-provenance stand-in: attestations need a public repository or GitHub "
            f"Enterprise Cloud (this one is private, plan {plan})"
        )
    i = inputs()
    digest = i.get("subject-digest", "")
    if not digest.startswith("sha256:") or len(digest) != 71 or not i.get("subject-name"):
        sys.exit(f"attest-build-provenance stand-in: bad subject {i.get('subject-name')}@{digest}")
    record("actions/attest-build-provenance", subject=f"{i['subject-name']}@{digest}")
    output(**{"bundle-path": "/dev/null", "attestation-id": "1", "attestation-url": "file:///"})


if __name__ == "__main__":
    {
        "checkout": checkout,
        "setup-python": setup_python,
        "setup-uv": setup_uv,
        "cache": cache,
        "cache-save": cache_save,
        "upload-artifact": upload_artifact,
        "download-artifact": download_artifact,
        "upload-pages-artifact": upload_pages_artifact,
        "deploy-pages": deploy_pages,
        "docker-login": docker_login,
        "attest-build-provenance": attest_build_provenance,
    }[sys.argv[1]]()
