"""The registry's rules: version bumps, refusals, the tag message, in a scratch git repository."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dvc.api
import pytest
from gto import api as gto

from actions_mlops import cli
from actions_mlops.core import git as core_git
from actions_mlops.core.config import (
    GATE_FILE,
    METRICS_FILE,
    MODEL_FILE,
    load_params,
)
from actions_mlops.core.errors import StepError
from actions_mlops.release.champion import (
    Champion,
    fetch_model,
    find_champion,
)
from actions_mlops.release.fingerprint import fingerprints
from actions_mlops.release.promote import promote
from actions_mlops.release.registry import (
    RegistryError,
    bumped,
    check_judged,
    check_on_branch,
    incompatible,
    publish,
    read_gate,
    register,
    tag_message,
)
from actions_mlops.release.versions import (
    check_descends,
    latest,
)

METRICS = {
    "primary": "rmse",
    "test_rows": 10,
    "metrics": {"rmse": {"value": 1.5, "ci_low": 1.0, "ci_high": 2.0}},
}


def test_bumps_follow_semver():
    assert bumped("v0.1.0", "patch") == "v0.1.1"
    assert bumped("v0.1.3", "minor") == "v0.2.0"
    assert bumped("v1.4.2", "major") == "v2.0.0"


def test_contract_changes_that_break_clients_are_incompatible(contract):
    assert incompatible(contract, contract) == []
    first = contract.features[0]
    fewer = contract.model_copy(
        update=dict(columns={n: c for n, c in contract.columns.items() if n != first})
    )
    assert incompatible(contract, fewer) == [f"feature {first!r} removed"]
    assert incompatible(fewer, contract) == [f"feature {first!r} added"]
    column = contract.columns[first]
    dtype = "float" if column.dtype == "str" else "str"
    retyped = {**contract.columns, first: column.model_copy(update=dict(dtype=dtype))}
    changed = incompatible(contract, contract.model_copy(update=dict(columns=retyped)))
    assert changed == [f"feature {first!r} is now {dtype}, was {column.dtype}"]


@pytest.mark.parametrize("gate", [None, {"verdict": "NOT_BLESSED"}, {"blessed": True}, "{", []])
def test_registration_needs_a_blessed_gate(workdir, gate):
    if gate is not None:
        GATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        GATE_FILE.write_text(gate if isinstance(gate, str) else json.dumps(gate))
    with pytest.raises(RegistryError, match="gate"):
        read_gate()


def test_a_dirty_tree_is_refused(workdir):
    for command in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "x"],
    ):
        subprocess.run(command, check=True)
    GATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    GATE_FILE.write_text(json.dumps({"verdict": "BLESSED"}))
    (workdir / "params.yaml").write_text("# changed\n" + (workdir / "params.yaml").read_text())
    with pytest.raises(RegistryError, match="uncommitted changes"):
        register()


def test_the_tag_message_is_a_registry_entry(workdir):
    data = Path("data/raw/dataset.parquet")
    for path in (data, MODEL_FILE, METRICS_FILE):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    gate = {"verdict": "BLESSED"}
    message = tag_message("m", "v1.0.0", "first version", "abc", gate, METRICS, data)
    assert message.startswith("m v1.0.0: first version\n")
    for line in ("commit: abc", "gate: BLESSED", "rmse: 1.5000 [1.0000, 2.0000]"):
        assert line in message
    assert "data: data/raw/dataset.parquet md5:9dd4e461268c8034f5c8564e155c67a6" in message
    assert "params: params.yaml sha256:" in message
    model = "model: " + re.escape(MODEL_FILE.as_posix()) + " md5:[0-9a-f]{32} sha256:[0-9a-f]{64}"
    assert re.search(f"^{model}$", message, re.M), message


def test_the_tag_message_records_an_accepted_drop_and_acknowledged_leaks(workdir):
    data = Path("data/raw/dataset.parquet")
    for path in (data, MODEL_FILE, METRICS_FILE):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    gate = {
        "verdict": "BLESSED",
        "accepted_drop": {
            "reason": "drop the leaky column",
            "champion": "v0.1.0",
            "metrics": {"rmse": 5.0},
            "applied": True,
        },
        "leaks": [
            {"column": "a", "kind": "near-leak", "score": "R² 0.9600", "acknowledged": True},
            {"column": "b", "kind": "leak", "score": "R² 0.9950", "acknowledged": False},
        ],
    }
    message = tag_message("m", "v0.2.0", "r", "abc", gate, METRICS, data).splitlines()
    assert "accepted drop (gate.accept_drop) vs v0.1.0: rmse up to 5" in message
    assert "  reason: drop the leaky column" in message
    assert "acknowledged near-leak: a (R² 0.9600)" in message
    assert not any(line.startswith("acknowledged leak: b") for line in message)


def test_a_newline_in_a_value_cannot_forge_the_tag_s_model_line(workdir):
    forged = Path("data/raw/x\nmodel: " + MODEL_FILE.as_posix() + " sha256:" + "0" * 64 + ".csv")
    for path in (forged, MODEL_FILE, METRICS_FILE):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    gate = {"verdict": "BLESSED"}
    with pytest.raises(StepError, match="newline or control character"):
        tag_message("m", "v1.0.0", "first version", "abc", gate, METRICS, forged)
    with pytest.raises(StepError, match="newline or control character"):
        tag_message("m", "v1.0.0", "first\nmodel: x", "abc", gate, METRICS, Path("data/raw/y"))


def git(*args: str) -> str:
    """Run git in the working directory; its output."""
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.fixture
def repo(workdir: Path) -> Path:
    """The scratch folder as a git repository: a model file and raw data, committed on main."""
    for path, text in ((MODEL_FILE, "a model"), (load_params().data.raw, "x,y\n1,2\n")):
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    git("init", "-q", "-b", "main")
    git("config", "user.name", "T")
    git("config", "user.email", "t@example.com")
    git("add", "-A")
    git("commit", "-qm", "first model")
    return workdir


@pytest.fixture
def origin(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare repository `origin` that has the scratch repository's main."""
    bare = tmp_path_factory.mktemp("origin") / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    git("remote", "add", "origin", str(bare))
    git("push", "-q", "origin", "main")
    return bare


def test_a_verdict_on_another_model_or_commit_is_refused(repo):
    """Gate BLESSED, then the model changes and is committed: the verdict is stale."""
    data = load_params().data.raw
    gate = {"verdict": "BLESSED", "judged": fingerprints(data)}
    check_judged(gate, data)  # it describes HEAD
    MODEL_FILE.write_text("another model")
    git("commit", "-qam", "another model")
    with pytest.raises(RegistryError) as refused:
        check_judged(gate, data)
    message = str(refused.value)
    assert "\n" not in message and message.endswith("run `make gate`")
    assert "gate judged commit" in message and "models/model.skops differs" in message


@pytest.mark.parametrize("changed", ["params.yaml", "contract.yaml", "data"])
def test_a_verdict_on_other_params_contract_or_data_is_refused(repo, changed):
    data = load_params().data.raw
    path = data if changed == "data" else Path(changed)
    judged = fingerprints(data)
    if changed == "data":
        path.write_bytes(path.read_bytes() + b"\n")
    else:  # a real change of the parsed content, not only of the layout
        path.write_text(path.read_text() + "\nchanged_by_test: 1\n")
    with pytest.raises(RegistryError, match=f"{re.escape(path.as_posix())} differs"):
        check_judged({"verdict": "BLESSED", "judged": {**judged, "commit": None}}, data)
    with pytest.raises(RegistryError, match="gate ran with uncommitted changes"):
        check_judged({"verdict": "BLESSED", "judged": {**fingerprints(data), "clean": False}}, data)


def test_only_commits_on_origins_release_branch_are_registered(repo, origin):
    check_on_branch(git("rev-parse", "HEAD"), "main")
    git("switch", "-q", "-c", "feature")
    git("commit", "-q", "--allow-empty", "-m", "not on main")
    git("push", "-q", "origin", "feature")  # on origin, but not on its main
    head = git("rev-parse", "HEAD")
    with pytest.raises(RegistryError, match=f"{head[:12]} is not on origin's main"):
        check_on_branch(head, "main")


def test_a_push_origin_refuses_stops_at_once_with_its_reason(repo, origin):
    """A refusal that is not 'the name is taken' (here a pre-receive hook) is not retried."""
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'tags are frozen by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    made = []

    def make_tag() -> str:
        git("tag", "-a", "m@v0.1.0", "-m", "m v0.1.0")
        made.append("m@v0.1.0")
        return "m@v0.1.0"

    with pytest.raises(RegistryError) as refused:
        publish(make_tag)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("origin refused m@v0.1.0: ")
    assert "tags are frozen by policy" in message and "pre-receive hook declined" in message
    assert made == ["m@v0.1.0"] and git("tag") == ""  # one attempt, no local tag left


def test_a_commit_older_than_the_latest_version_is_never_released(repo, capsys):
    """Re-running an old commit's release must not make its model the newest version."""
    model = load_params().registry.model
    old = git("rev-parse", "HEAD")
    git("commit", "-q", "--allow-empty", "-m", "newer model")
    gto.register(".", model, "HEAD", version="v0.1.0", message=f"{model} v0.1.0")
    newest = latest(model)
    assert newest is not None
    check_descends(newest, newest.commit)  # the version's own commit (or a later one) may
    with pytest.raises(StepError, match=f"{old[:12]} is not a descendant of the latest"):
        check_descends(newest, old)
    git("checkout", "-q", old)
    assert cli.main(["versions", "--model-changed"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("versions: refused: ") and f"{model}@v0.1.0" in line


def test_promote_validates_the_stage_is_idempotent_and_rolls_back(repo):
    model = load_params().registry.model
    gto.register(".", model, "HEAD", version="v0.1.0", message="first")
    git("commit", "-q", "--allow-empty", "-m", "second model")
    gto.register(".", model, "HEAD", version="v0.2.0", message="second")
    with pytest.raises(RegistryError, match="stage 'Prod!' is not allowed: letters, digits"):
        promote("v0.1.0", "Prod!")
    assert promote("v0.1.0", "prod") == f"{model}#prod#1"
    assert promote("v0.1.0", "prod") is None  # already there: nothing to do, no traceback
    assert promote("v0.2.0", "prod") == f"{model}#prod#2"
    assert promote("v0.1.0", "prod") == f"{model}#prod#3"  # a rollback
    champion = find_champion(model, "prod")
    assert champion is not None and champion.version == "v0.1.0"
    assert sorted(git("tag").split()) == sorted(
        [f"{model}@v0.1.0", f"{model}@v0.2.0", *(f"{model}#prod#{n}" for n in (1, 2, 3))]
    )


def test_a_project_without_origin_is_identified_by_its_folder(tmp_path, monkeypatch):
    """`make package` labels the store entry with the project's identity: its origin URL
    (credentials removed), else its repository folder; no origin is not an error."""
    from actions_mlops.release.package import project_identity

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    assert project_identity() == str(tmp_path.resolve())
    url = "https://user:token@example.com/org/repo.git"  # pragma: allowlist secret
    subprocess.run(["git", "remote", "add", "origin", url], check=True)
    assert project_identity() == "https://example.com/org/repo.git"


def next_second() -> None:
    """GTO orders a stage's events by their tags' times in whole seconds: one event a second."""
    time.sleep(1 - time.time() % 1)


def gto_cli(*args: str) -> str:
    """GTO's own command line, as a user runs it next to the project's commands."""
    command = shutil.which("gto", path=str(Path(sys.executable).parent)) or "gto"
    return subprocess.run([command, *args], capture_output=True, text=True, check=True).stdout


def test_champion_versions_and_head_agree_with_gto_after_unassign_and_deregister(repo, capsys):
    """Register v0.1.0 and v0.2.0 (HEAD), put v0.1.0 in prod, then with GTO's command line
    unassign prod and deregister v0.2.0: every reader of the registry says what `gto show` says."""
    model = load_params().registry.model
    gto.register(".", model, "HEAD", version="v0.1.0", message=f"{model} v0.1.0")
    git("commit", "-q", "--allow-empty", "-m", "second model")
    gto.register(".", model, "HEAD", version="v0.2.0", message=f"{model} v0.2.0")
    next_second()
    gto.assign(".", model, "prod", version="v0.1.0", message="to prod")
    champion = find_champion(model, "prod")
    assert champion is not None and (champion.version, champion.stage) == ("v0.1.0", "prod")

    next_second()
    gto_cli("deprecate", model, "v0.1.0", "prod")  # GTO's unassign
    next_second()
    gto_cli("deprecate", model, "v0.2.0")  # GTO's deregister
    shown = json.loads(gto_cli("show", "--json"))[model]
    assert (shown["version"], shown["stage"]) == ("v0.1.0", {})  # latest v0.1.0, nothing in prod

    champion = find_champion(model, "prod")  # no prod version: the latest one, via no stage
    assert champion is not None and (champion.version, champion.stage) == (shown["version"], None)
    registered = [v["version"] for v in json.loads(gto_cli("show", model, "--ro", "--json"))]
    capsys.readouterr()
    assert cli.main(["versions"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]]
    assert listed == registered == ["v0.1.0"]
    assert cli.main(["versions", "--head"]) == 0  # HEAD is v0.2.0's commit, deregistered
    assert capsys.readouterr().out == ""


def test_head_version_is_the_tag_gto_registered_on_head(repo, capsys):
    model = load_params().registry.model
    assert cli.main(["versions", "--head"]) == 0 and capsys.readouterr().out == ""
    gto.register(".", model, "HEAD", version="v0.3.0", message=f"{model} v0.3.0")
    assert cli.main(["versions", "--head"]) == 0
    assert capsys.readouterr().out == f"{model}@v0.3.0\n"


def test_git_failures_are_one_line_and_missing_files_are_none(repo):
    with pytest.raises(core_git.GitError) as failed:
        core_git.git("checkout", "no-such-branch")
    message = str(failed.value)
    assert "\n" not in message and message.startswith("git checkout no-such-branch failed: ")
    assert core_git.head() == git("rev-parse", "HEAD") == core_git.commit_of("main")
    params = Path("params.yaml")
    assert core_git.show_file("HEAD", params) == params.read_text()
    assert core_git.show_file("HEAD", Path("no/such/file")) is None
    assert core_git.show_file("no-such-branch", params) is None
    assert core_git.commit_of("no-such-branch") is None


def test_a_champion_model_dvc_cannot_provide_comes_with_the_reason(repo, monkeypatch):
    """Not in DVC and no GitHub Release: the gate falls back, and is told why; an error that
    does not mean "not available" (a bug) is not taken for one."""
    monkeypatch.delenv("GH_TOKEN", raising=False)
    git("rm", "-q", "--cached", MODEL_FILE.as_posix())  # neither in git nor in DVC
    git("commit", "-qm", "no model file")
    champion = Champion(load_params().registry.model, "v0.1.0", git("rev-parse", "HEAD"))
    source, reason = fetch_model(champion, Path("champion") / MODEL_FILE.name)
    assert source is None and reason.startswith("DVC: ") and "\n" not in reason
    assert reason.endswith("; GitHub Release: needs the gh CLI and GH_TOKEN")

    def broken(*args, **kwargs):
        raise KeyError("a bug, not a missing file")

    monkeypatch.setattr(dvc.api, "open", broken)
    with pytest.raises(KeyError, match="a bug"):
        fetch_model(champion, Path("champion") / MODEL_FILE.name)
