"""The service's fast path on every bundled example: each bake's own tests/test_fastpath.py
trains the example's default model and checks that the compiled preprocessing is the one the
service runs and that it predicts what the pipeline predicts on the example's test split."""

from __future__ import annotations

import sys

import pytest
from conftest import DATASETS, bake, run

EXAMPLES = [(task, dataset) for task, datasets in DATASETS.items() for dataset in datasets]


@pytest.mark.parametrize(("task", "dataset"), EXAMPLES, ids=lambda value: value)
def test_every_example_is_served_through_the_compiled_path(task, dataset, tmp_path):
    project = bake(tmp_path, task=task, dataset=dataset, init_git="no")
    env = {"PYTHONPATH": str(project / "src"), "BENTOML_DO_NOT_TRACK": "True"}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_fastpath.py"]
    result = run(command, project, env=env)
    tests = (project / "tests" / "test_fastpath.py").read_text().count("\ndef test_")
    assert f" {tests} passed" in result.stdout, result.stdout[-2000:]
