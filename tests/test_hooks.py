"""The hooks: bad answers stop before anything is written; git init happens, or is skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake, run
from cookiecutter.exceptions import FailedHookException

BAD_ANSWERS = [
    ({"project": "1-model"}, "project: '1-model' is not a slug"),
    ({"project": "churn_model"}, "project: 'churn_model' is not a slug"),
    ({"package": "churn-model"}, "package: 'churn-model' is not a lowercase Python identifier"),
    ({"package": "class"}, "package: 'class' is a Python keyword"),
    ({"package": "match"}, "package: 'match' is a Python keyword"),
    ({"package": "json"}, "package: 'json' clashes with the standard library"),
    ({"package": "sklearn"}, "package: 'sklearn' clashes with the installed package"),
    ({"package": "x" * 41}, "is longer than 40 characters"),
    ({"author_email": "not-an-email"}, "author_email: 'not-an-email' is not an email address"),
    ({"author_email": "a@b"}, "author_email: 'a@b' is not an email address"),
    ({"github_owner": "-bad-"}, "github_owner: '-bad-' is not a GitHub user"),
    ({"task": "regression", "dataset": "wine"}, "dataset: 'wine' does not fit task 'regression'"),
    (
        {"task": "classification", "dataset": "diabetes"},
        "dataset: 'diabetes' does not fit task 'classification'",
    ),
    (
        {"dvc_remote": "s3", "dvc_remote_url": "gs://bucket/x"},
        "dvc_remote_url: 'gs://bucket/x' does not fit dvc_remote 's3'",
    ),
    (
        {"dvc_remote": "none", "dvc_remote_url": "s3://bucket/x"},
        "dvc_remote_url: must be empty when dvc_remote is 'none'",
    ),
    ({"dvc_remote": "local", "dvc_remote_url": ""}, "dvc_remote_url: required"),
]


def bake_cli(output: Path, *answers: str, env: dict[str, str] | None = None):
    """Bake through the command line, as a user does."""
    command = [
        sys.executable,
        "-m",
        "cookiecutter",
        "--no-input",
        str(TEMPLATE),
        "-o",
        str(output),
        *answers,
    ]
    return subprocess.run(command, text=True, capture_output=True, env=env, timeout=120)


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS, ids=lambda x: str(x)[:40])
def test_bad_answer_is_rejected_by_name_and_leaves_nothing(answers, message, tmp_path):
    result = bake_cli(tmp_path, *(f"{k}={v}" for k, v in answers.items()))
    assert result.returncode != 0
    assert message in result.stderr
    assert "(example: " in result.stderr or "must be empty" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_every_problem_is_reported_at_once(tmp_path):
    with pytest.raises(FailedHookException):
        bake(tmp_path, package="class", author_email="nope", task="regression", dataset="wine")
    assert list(tmp_path.iterdir()) == []


def test_unsupported_python_version_is_rejected(tmp_path):
    result = bake_cli(tmp_path, "python_version=3.9")
    assert result.returncode != 0 and "3.9" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_unicode_project_name_gets_a_valid_slug_and_package(tmp_path):
    project = bake(tmp_path, project_name="Prévision des Ventes 2")
    assert project.name == "prevision-des-ventes-2"
    assert (project / "src" / "prevision_des_ventes_2" / "features.py").exists()


def test_git_init_leaves_a_clean_tree_on_main(tmp_path):
    project = bake(tmp_path)
    assert run(["git", "symbolic-ref", "--short", "HEAD"], project).stdout.strip() == "main"
    status = run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], project)
    lines = status.stdout.splitlines()
    assert lines and all(line.startswith("?? ") for line in lines), "nothing ignored or staged"
    assert not (project / "_options").exists()


@pytest.mark.parametrize("how", ["answer", "environment"])
def test_git_init_can_be_skipped(how, tmp_path):
    env = {**os.environ, "ACTIONS_MLOPS_NO_GIT": "1"} if how == "environment" else None
    answers = ["init_git=no"] if how == "answer" else []
    result = bake_cli(tmp_path, *answers, env=env)
    assert result.returncode == 0, result.stderr
    assert "Skipped git init" in result.stdout
    assert not (tmp_path / "churn-model" / ".git").exists()


def test_missing_git_is_reported_not_fatal(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "env"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    result = bake_cli(tmp_path / "out", env={**os.environ, "PATH": str(bin_dir)})
    assert result.returncode == 0, result.stderr
    assert "git is not installed" in result.stdout
    assert (tmp_path / "out" / "churn-model" / "params.yaml").exists()
    assert not (tmp_path / "out" / "churn-model" / ".git").exists()
