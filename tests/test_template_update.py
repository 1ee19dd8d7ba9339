"""Template updates with cruft, as a user gets them: a project made from one template commit and
edited as users edit takes a new actions-mlops release as a version bump with their edits kept,
and an edit that overlaps the template's own change shows as a conflict, never as a silent
overwrite.

The template comes from this repository's own history (a local path): nothing reaches GitHub.
Only committed template states count (cruft reads commits, not the working tree), except in the
first-commit test, which commits a snapshot of the working tree to create from."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
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


def release_platform(template: Path, version: str) -> None:
    """A new actions-mlops release in the template repository `template`, as `make platform`
    makes one: the version bumped, a change that does not touch training (the report's title),
    the wheel rebuilt into the project template's vendor/ and the project's pin moved to it."""
    platform = template / "actions-mlops"
    old = tomllib.loads((platform / "pyproject.toml").read_text())["project"]["version"]
    edit(platform / "pyproject.toml", f'version = "{old}"', f'version = "{version}"')
    edit(
        platform / "src/actions_mlops/templates/report.md.j2",
        "## Model report: {{ model }}",
        "## Model report for {{ model }}",
    )
    vendor = template / "{{cookiecutter.project}}" / "vendor"
    for wheel in vendor.glob("*.whl"):
        wheel.unlink()
    uv = str(Path(sys.executable).parent / "uv")
    build = [uv, "build", "--offline", "--no-build-isolation", "--wheel", "--out-dir", str(vendor)]
    run([*build, str(platform)], template)
    (vendor / ".gitignore").unlink(missing_ok=True)
    pyproject = template / "{{cookiecutter.project}}" / "pyproject.toml"
    for pattern in ("actions_mlops-{}-py3", '=={}"'):  # the wheel's path and the pin
        edit(pyproject, pattern.format(old), pattern.format(version))
    commit(template, f"actions-mlops {version}")


def test_a_platform_release_reaches_an_edited_project_as_a_version_bump(tmp_path, project_env):
    """A project made the README's way from one template commit, with its owner's usual edits
    and a trained model, updated by `make update` to a commit that releases a new actions-mlops:
    no conflict, the update's diff is the pin, the lock and the wheel; the project's own
    environment (`make setup`) runs the new version; `make check` and `make repro` pass and the
    model is unchanged (the release does not touch training)."""
    template = snapshot(tmp_path)
    run([str(project_env / "bin" / "cruft"), "create", "--no-input", str(template)], tmp_path,
        env=NO_GIT, timeout=300)  # fmt: skip
    project = tmp_path / "churn-model"
    run(["git", "init", "-q", "-b", "main"], project)
    edit(project / "params.yaml", "test_size: 0.25", "test_size: 0.3")
    edit(project / "contract.yaml", "min_rows: 50", "min_rows: 60")
    features = project / "src" / "churn_model" / "features.py"
    edit(
        features,
        "    return default_features(",
        "    # Reviewed by the team.\n    return default_features(",
    )
    (project / "README.md").write_text((project / "README.md").read_text() + "\nOur notes.\n")
    (project / "tests" / "test_mine.py").write_text("def test_mine() -> None:\n    assert True\n")
    make(project, "setup", project / ".venv", timeout=900)
    make(project, "repro", project / ".venv", timeout=900)
    model = (project / "models" / "model.skops").read_bytes()
    commit(project, "Our project")

    release_platform(template, "0.1.1")
    update = make(project, "update", project / ".venv", env={"TEMPLATE_REF": "main"}, timeout=900)
    assert "make template-conflicts: none" in update.stdout
    run(["git", "add", "-A"], project)
    names = ["git", "diff", "--cached", "--name-only", "--no-renames"]
    changed = set(run(names, project).stdout.split())
    wheels = {f"vendor/actions_mlops-{v}-py3-none-any.whl" for v in ("0.1.0", "0.1.1")}
    assert changed == {".cruft.json", "pyproject.toml", "uv.lock", *wheels}, changed
    assert "Reviewed by the team" in features.read_text()
    assert "test_size: 0.3" in (project / "params.yaml").read_text()
    assert "Our notes." in (project / "README.md").read_text()
    commit(project, "actions-mlops 0.1.1")

    make(project, "setup", project / ".venv", timeout=900)
    version = run([str(project / ".venv/bin/python"), "-c",
                   "import actions_mlops; print(actions_mlops.__version__)"], project)  # fmt: skip
    assert version.stdout.strip() == "0.1.1"
    make(project, "check", project / ".venv", timeout=900)
    again = make(project, "repro", project / ".venv", timeout=900)
    assert "Running stage" not in again.stdout
    assert (project / "models" / "model.skops").read_bytes() == model


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
