"""Make variables never run code (issue 31, item 4): a value given to `make serve`,
`make containerize`, `make monitor` or `make predict` on the command line or in the
environment reaches the platform's command line as one quoted argument, unexpanded by make, and
a value that is not a host, a port or an image name is refused in one line. Each case would
touch a marker file if any shell or make ran what it carries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import bake, run

CASES = {
    "serve HOST": ("serve", {"HOST": "x; touch {marker}"}, "command line", "--host"),
    "serve HOST env": ("serve", {"HOST": "x; touch {marker}"}, "environment", "--host"),
    "serve PORT": ("serve", {"PORT": "1 --host x; touch {marker}"}, "command line", "--port"),
    "containerize IMAGE": (
        "containerize",
        {"IMAGE": 'x"; touch {marker}; "'},
        "command line",
        "--image",
    ),
    "containerize IMAGE $(shell)": (
        "containerize",
        {"IMAGE": "$(shell touch {marker})"},
        "command line",
        "--image",
    ),
    "containerize IMAGE env $(shell)": (
        "containerize",
        {"IMAGE": "$(shell touch {marker})"},
        "environment",
        "--image",
    ),
    "containerize IMAGE_REGISTRY env $(shell)": (
        "containerize",
        {"IMAGE_REGISTRY": "$(shell touch {marker})"},
        "environment",
        "--image",
    ),
    "monitor BATCH $(shell)": ("monitor", {"BATCH": "$(shell touch {marker})"}, "command line", ""),
    "monitor BATCH env $(touch)": ("monitor", {"BATCH": "$(touch {marker})"}, "environment", ""),
    "predict DATA $(shell)": ("predict", {"DATA": "$(shell touch {marker})"}, "command line", ""),
    "predict SPARK $(shell)": (
        "predict",
        {"DATA": "x.csv", "SPARK": "$(shell touch {marker})"},
        "command line",
        "",
    ),
    "predict OUT env $(touch)": (
        "predict",
        {"DATA": "x.csv", "OUT": "$(touch {marker})"},
        "environment",
        "",
    ),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("make-variables"), init_git="no")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_make_variable_never_runs_code(case, project, project_env, tmp_path):
    target, values, where, option = CASES[case]
    marker = tmp_path / "pwned"
    given = {name: value.format(marker=marker) for name, value in values.items()}
    command = ["make", target, f"VENV={project_env}"]
    if where == "command line":
        command += [f"{name}={value}" for name, value in given.items()]
    result = run(command, project, check=False, env=given if where == "environment" else {})
    assert not marker.exists(), (result.stdout, result.stderr)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    if option:
        assert lines[0].startswith(f"{target}: refused: {option} "), lines


@pytest.mark.parametrize("where", ["command line", "environment"])
def test_stage_image_and_push_image_never_paste_the_image_into_the_shell(
    where, project, project_env, tmp_path
):
    """The CI targets release.yml and promote.yml call read IMAGE quoted from the environment:
    a value that breaks out of double quotes runs nothing (docker is a stand-in that fails)."""
    marker = tmp_path / "pwned"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text('#!/bin/sh\necho "docker: $*" >&2\nexit 1\n')
    (bin_dir / "docker").chmod(0o755)
    given = {"IMAGE": f'x"; touch {marker}; "', "VERSION": "v1.0.0", "STAGE": "prod"}
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    command = ["make", "stage-image", f"VENV={project_env}"]
    if where == "command line":
        command += [f"{name}={value}" for name, value in given.items()]
    else:
        env |= given
    result = run(command, project, check=False, env=env)
    assert not marker.exists(), (result.stdout, result.stderr)
    assert result.returncode != 0
    dry = run(["make", "-n", "push-image", *command[2:]], project, check=False, env=env)
    assert str(marker) not in dry.stdout, dry.stdout
