"""The project's git hooks as `make setup` installs them, in the normal loop: a failed `make
repro`, a first model registered, a second branch with new results, DVC-tracked and git-tracked
data. Every commit goes through the real pre-commit hooks (installed from PyPI once, then
reused from pre-commit's cache)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import bake, make, run

pytestmark = pytest.mark.slow
# A user's table: quoted fields that end in spaces, a header cell too, no final newline.
TABLE = b'name,city \n"Smith  ",Oslo\n"Lee ",Rome\t\n"Ng",  '
NOTES = b"measured by hand   \r\nsecond line  "


def git(project: Path, *args: str, check: bool = True) -> str:
    return run(["git", *args], project, check=check).stdout


def staged(project: Path) -> list[str]:
    return git(project, "diff", "--cached", "--name-only").splitlines()


def commit(project: Path, message: str) -> None:
    """`git commit` through the installed hooks; fails the test with their output."""
    result = run(["git", "commit", "-m", message], project, check=False, timeout=900)
    output = result.stdout + result.stderr  # pre-commit reports on stderr under git
    assert result.returncode == 0, f"the hooks refused the commit:\n{output[-4000:]}"


@pytest.fixture(scope="module")
def project(tmp_path_factory, project_env) -> Path:
    """A regression example project with its hooks installed and its first commit made."""
    project = bake(tmp_path_factory.mktemp("hooks"), task="regression", dataset="diabetes")
    for key, value in (("user.email", "t@example.com"), ("user.name", "T")):
        git(project, "config", key, value)
    # The hooks run .venv's tools (`make setup` makes .venv; here: the tests' environment).
    (project / ".venv").symlink_to(project_env)
    run([str(project_env / "bin" / "pre-commit"), "install"], project)
    git(project, "add", "-A")
    commit(project, "init")
    return project


def test_a_failed_repro_stages_no_model_or_split(project, project_env):
    """DVC takes its .gitignore entries back when `dvc repro` fails: the static entries of the
    project's .gitignore keep the outputs out of `git add -A` all the same."""
    params = project / "params.yaml"
    good = params.read_text()
    # A metric evaluate does not know: the first run trains the model, then stops at evaluate.
    # (`dvc repro` itself: `make repro` would refuse the params before any stage runs.)
    params.write_text(good.replace("metrics: [rmse, mae, r2]", "metrics: [rmse, mae, r2, bad]"))
    try:
        dvc = [str(project_env / "bin" / "dvc"), "repro"]
        failed = run(dvc, project, check=False, env={"PYTHONPATH": str(project / "src")})
        assert failed.returncode != 0, failed.stdout[-2000:]
        assert "Running stage 'evaluate'" in failed.stdout, failed.stdout[-2000:]
        assert (project / "models/model.skops").exists(), "train ran before evaluate failed"
        git(project, "add", "-A")
        leaked = [
            path
            for path in staged(project)
            if path.startswith(("models/", "data/split/")) or path == "data/raw/dataset.csv"
        ]
        assert leaked == [], f"pipeline outputs staged after a failed repro: {leaked}"
    finally:
        git(project, "reset", "-q")
        params.write_text(good)


def test_the_normal_loop_commits_through_the_hooks_and_leaves_data_as_it_came(project, project_env):
    """First model registered; then on a branch: new params and results, a gate verdict that
    names the champion's commit and file hashes (committed by a user who wants it versioned),
    a table tracked with `dvc add`, a table and notes committed to git as they are."""
    make(project, "repro", project_env)
    git(project, "add", "-A")
    commit(project, "first model")
    assert "gate: BLESSED" in make(project, "gate", project_env).stdout
    make(project, "register", project_env)

    git(project, "switch", "-q", "-c", "second")
    params = project / "params.yaml"
    assert "alpha: 1.0" in params.read_text()  # the regression default, Ridge
    params.write_text(params.read_text().replace("alpha: 1.0", "alpha: 3.0"))
    make(project, "repro", project_env)
    make(project, "gate", project_env)
    assert '"commit": "' in (project / "reports/gate.json").read_text()
    raw = project / "data" / "raw"
    (raw / "people.csv").write_bytes(TABLE)
    (project / "data" / "notes.txt").write_bytes(NOTES)
    (raw / "large.csv").write_bytes(b"a,b\n" + b"1,2\n" * 300_000)
    run([str(project_env / "bin" / "dvc"), "add", "data/raw/large.csv"], project)
    git(project, "add", "-A")
    git(project, "add", "-f", "reports/gate.json")
    commit(project, "second model")

    committed = git(project, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert {
        "data/raw/people.csv",
        "data/notes.txt",
        "data/raw/large.csv.dvc",
        "reports/gate.json",
        "dvc.lock",
    } <= set(committed)
    assert not [path for path in committed if path.startswith(("models/", "data/split/"))]
    assert "data/raw/large.csv" not in committed
    assert (raw / "people.csv").read_bytes() == TABLE
    assert (project / "data" / "notes.txt").read_bytes() == NOTES
    assert run(["git", "show", "HEAD:data/raw/people.csv"], project).stdout.encode() == TABLE
    assert git(project, "status", "--porcelain") == ""
