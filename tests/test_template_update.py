"""Template updates with cruft, as a user gets them: a project baked from a real earlier commit
of this repository, edited as users edit, merges HEAD's template with their edits kept, and an
edit that overlaps the template's own change shows as a conflict, never as a silent overwrite.

The template comes from this repository's own history (a local path): nothing reaches GitHub.
Only committed template states count (cruft reads commits, not the working tree), except in the
first-commit test, which commits a snapshot of the working tree to create from."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import TEMPLATE, make, run

pytestmark = pytest.mark.slow
# A real earlier commit: the template before the package split and before `make update`.
OLD = "a1a3cd9c05c66189f66b7a63e130f74cce78af17"
NO_GIT = {"ACTIONS_MLOPS_NO_GIT": "1"}


def template_head(template: Path = TEMPLATE) -> str:
    return run(["git", "rev-parse", "HEAD"], template).stdout.strip()


def cruft(project_env: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(project_env / "bin" / "cruft"), *args], cwd, env=NO_GIT, timeout=300)


def create(tmp: Path, project_env: Path) -> Path:
    """`cruft create` from the old commit, committed as a user's first commit."""
    known = run(["git", "cat-file", "-t", OLD], TEMPLATE, check=False)
    assert known.stdout.strip() == "commit", f"{OLD} is not in this clone's history (shallow?)"
    cruft(project_env, "create", str(TEMPLATE), "--checkout", OLD, "--no-input", cwd=tmp)
    project = tmp / "churn-model"
    run(["git", "init", "-q", "-b", "main"], project)
    commit(project, "Baked from the template")
    return project


def snapshot(tmp: Path) -> Path:
    """The template's working tree, tracked and untracked files, as a one-commit git repository:
    what `cruft create` reads (a commit), with the changes under test in it."""
    files = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], TEMPLATE)
    template = tmp / "template"
    for name in filter(None, files.stdout.split("\0")):
        source = TEMPLATE / name
        if source.is_file():  # not a tracked file deleted in the working tree
            (template / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, template / name)
    run(["git", "init", "-q", "-b", "main"], template)
    commit(template, "Snapshot of the template's working tree")
    return template


def commit(project: Path, message: str) -> None:
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=U", "-c", "user.email=u@example.com", "commit", "-qm", message],
        project)  # fmt: skip


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_a_user_edited_project_updates_without_conflict_and_passes(tmp_path, project_env):
    project = create(tmp_path, project_env)
    # Typical edits: a param, a contract rule, their own feature code and test.
    edit(project / "params.yaml", "test_size: 0.25", "test_size: 0.3")
    edit(project / "contract.yaml", "min_rows: 50", "min_rows: 60")
    features = project / "src" / "churn_model" / "features.py"  # where a1a3cd9 had it
    features.write_text(features.read_text() + '\n\nMY_NOTE = "kept through template updates"\n')
    (project / "tests" / "test_mine.py").write_text("def test_mine():\n    assert 1 + 1 == 2\n")
    commit(project, "User edits")

    head = template_head()
    cruft(project_env, "update", "--checkout", head, "--skip-apply-ask", cwd=project)
    assert json.loads((project / ".cruft.json").read_text())["commit"] == head
    conflicts = make(project, "template-conflicts", project_env)
    assert "none" in conflicts.stdout
    assert "test_size: 0.3" in (project / "params.yaml").read_text()
    assert "min_rows: 60" in (project / "contract.yaml").read_text()
    # HEAD groups the package by the flow: the user's feature code moved with its file.
    assert "MY_NOTE" in (project / "src" / "churn_model" / "data" / "features.py").read_text()
    assert not features.exists()
    assert (project / "tests" / "test_mine.py").exists()
    assert (project / "src" / "churn_model" / "core" / "modelfile.py").exists(), (
        "HEAD's modules arrived"
    )

    commit(project, "Template update")
    make(project, "check", project_env, timeout=900)
    make(project, "repro", project_env, timeout=900)
    # Now that the project has `make update`, a second update is a no-op.
    again = make(project, "update", project_env, env={"TEMPLATE_REF": head})
    assert "none" in again.stdout


def test_an_edit_overlapping_the_templates_change_is_a_visible_conflict(tmp_path, project_env):
    project = create(tmp_path, project_env)
    workflow = project / ".github" / "workflows" / "promote.yml"
    old_line = 'run: make promote VERSION="$VERSION" STAGE="$STAGE"'
    edit(workflow, old_line, old_line + " BUMP=mine")
    commit(project, "User edit of a template-owned line")

    cruft(project_env, "update", "--checkout", template_head(), "--skip-apply-ask", cwd=project)
    text = workflow.read_text()
    assert "<<<<<<<" in text and "BUMP=mine" in text, "the user's line was overwritten silently"
    listed = make(project, "template-conflicts", project_env, check=False)
    assert listed.returncode != 0
    assert ".github/workflows/promote.yml" in listed.stderr


def test_the_first_commit_of_a_cruft_created_project_passes_its_hooks(tmp_path, project_env):
    """The README's way: `cruft create --no-input --extra-context '{"dataset": "csv"}'`, the
    hooks `make setup` installs, then the user's first `git commit`. .cruft.json records the
    template's commit SHA, which detect-secrets must not take for a secret."""
    template = snapshot(tmp_path)
    create = [str(project_env / "bin" / "cruft"), "create", "--no-input", "--extra-context"]
    run([*create, '{"dataset": "csv"}', str(template)], tmp_path, timeout=300)
    project = tmp_path / "churn-model"
    assert json.loads((project / ".cruft.json").read_text())["commit"] == template_head(template)
    assert (project / ".git").is_dir(), "the post-generation hook ran `git init`"
    # `make setup`'s hook install, with the tests' environment as the project's .venv.
    (project / ".venv").symlink_to(project_env)
    run([str(project_env / "bin" / "pre-commit"), "install"], project)
    run(["git", "add", "-A"], project)
    result = run(
        ["git", "-c", "user.name=U", "-c", "user.email=u@example.com", "commit", "-m", "First"],
        project,
        check=False,
        timeout=900,
    )
    output = result.stdout + result.stderr  # pre-commit reports on stderr under git
    assert result.returncode == 0, f"the hooks refused the first commit:\n{output[-4000:]}"
    assert run(["git", "status", "--porcelain"], project).stdout == ""
