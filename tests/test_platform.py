"""The actions-mlops package's own tests, on every example project they were written for.

The package (actions-mlops/) is tested once here, not in every generated project: its suite
runs on each bundled example (ACTIONS_MLOPS_EXAMPLE, baked by its conftest), so the fast path,
the gate, the report and the rest are proven on breast_cancer, wine, diabetes and both CSVs.
What reads no example data (the `per_task` marker: settings, registry, reports, layout) runs on
the first example of each task only.
The wheel generated projects install is this source, byte for byte.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from conftest import DATASETS, TEMPLATE, run

PLATFORM = TEMPLATE / "actions-mlops"
EXAMPLES = [f"{task}-{dataset}" for task, datasets in DATASETS.items() for dataset in datasets]
FIRST_OF_TASK = {f"{task}-{datasets[0]}" for task, datasets in DATASETS.items()}


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES)
def test_the_package_s_tests_pass_on_each_example(example):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    if example not in FIRST_OF_TASK:
        command += ["-m", "not per_task"]
    env = {"ACTIONS_MLOPS_EXAMPLE": example, "BENTOML_DO_NOT_TRACK": "True"}
    result = run(command, PLATFORM, env=env, timeout=1200)
    assert " passed" in result.stdout and " failed" not in result.stdout, result.stdout[-3000:]


def test_the_vendored_wheel_is_this_source(tmp_path):
    """Generated projects install the wheel in {{cookiecutter.project}}/vendor/ (the shipped
    locks hold its hash): it must be a fresh, reproducible build of actions-mlops/ (`make
    platform` rebuilds it), and its name the version pyproject.toml declares."""
    version = tomllib.loads((PLATFORM / "pyproject.toml").read_text())["project"]["version"]
    (vendored,) = (TEMPLATE / "{{cookiecutter.project}}" / "vendor").glob("*.whl")
    assert vendored.name == f"actions_mlops-{version}-py3-none-any.whl"
    uv = str(Path(sys.executable).parent / "uv")
    build = [uv, "build", "--offline", "--no-build-isolation", "--wheel", "--out-dir"]
    run([*build, str(tmp_path), str(PLATFORM)], TEMPLATE)
    fresh = tmp_path / vendored.name
    assert fresh.read_bytes() == vendored.read_bytes(), "the vendored wheel is stale: make platform"
