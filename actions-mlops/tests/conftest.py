"""Shared fixtures: an example project's contract and params, and a messy data set.

The tests run on an example project baked from the template this package lives in
(ACTIONS_MLOPS_EXAMPLE picks it: `<task>-<dataset>`, default classification-breast_cancer),
made once in build/examples/ and reused: the example data and settings they were written for.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from actions_mlops.core.config import (
    Params,
    load_params,
)
from actions_mlops.data.contract import (
    Column,
    Contract,
    load_contract,
)
from actions_mlops.data.ingest import ingest
from actions_mlops.data.tables import (
    read_table,
)

PLATFORM = Path(__file__).resolve().parents[1]
TEMPLATE = PLATFORM.parent
EXAMPLE = os.environ.get("ACTIONS_MLOPS_EXAMPLE", "classification-breast_cancer")
PACKAGE = "example_model"  # the example project's own package (src/example_model)


def example_project(name: str) -> Path:
    """The example project `<task>-<dataset>`, baked once from the template (a file lock keeps
    parallel workers from baking it twice)."""
    examples = TEMPLATE / "build" / "examples"
    examples.mkdir(parents=True, exist_ok=True)
    project = examples / name / "example-model"
    with (examples / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = project / ".baked-from"
        # Baked anew by each test run (xdist's workers share their run's id), once.
        source = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())
        if not stamp.is_file() or stamp.read_text() != source:
            from cookiecutter.main import cookiecutter

            shutil.rmtree(project.parent, ignore_errors=True)
            task, dataset = name.split("-", 1)
            os.environ["ACTIONS_MLOPS_NO_GIT"] = "1"
            context = {"project_name": "Example Model", "task": task, "dataset": dataset}
            cookiecutter(
                str(TEMPLATE), no_input=True, extra_context=context, output_dir=str(project.parent)
            )
            stamp.write_text(source)
    return project


ROOT = example_project(EXAMPLE)
# The tests run as a project's commands run: its own code importable, this environment's
# tools (uv, dvc) first on PATH as `make` puts them, and in the project's folder (in_project).
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
sys.path.insert(0, str(ROOT / "src"))
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])
)


# Modules that read no example data (settings, registry, reports, layout: the example's task
# and the settings its examples share are all they depend on) and single tests of that kind.
PER_TASK_MODULES = {
    "test_adopt", "test_ci_commands", "test_config", "test_containerize", "test_hooks",
    "test_layout", "test_markdown_inert", "test_metrics", "test_modelfile", "test_params_read",
    "test_registry", "test_report", "test_serving_imports", "test_settings_files", "test_site",
    "test_split", "test_sweep",
}  # fmt: skip
PER_TASK_TESTS = {"test_gate_quality_false_blocks_and_detection"}  # synthetic data, task's gate


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `per_task` what PER_TASK_MODULES and PER_TASK_TESTS name."""
    for item in items:
        name = getattr(item, "originalname", item.name)
        if item.path.stem in PER_TASK_MODULES or name in PER_TASK_TESTS:
            item.add_marker(pytest.mark.per_task)


@pytest.fixture(scope="session", autouse=True)
def in_project() -> Iterator[Path]:
    """Every test starts in the example project's folder, where its commands run."""
    before = Path.cwd()
    os.chdir(ROOT)
    yield ROOT
    os.chdir(before)


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(ROOT / "contract.yaml")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's config files in a scratch folder, made the working directory."""
    for name in ("params.yaml", "contract.yaml", "dvc.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    raw = load_params(ROOT / "params.yaml").data.raw
    if (ROOT / raw).exists():
        (tmp_path / raw).parent.mkdir(parents=True)
        shutil.copy(ROOT / raw, tmp_path / raw)
    shutil.copytree(ROOT / "src", tmp_path / "src")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    paths = [str(tmp_path / "src"), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))
    return tmp_path


@pytest.fixture
def project_frame(workdir: Path) -> Callable[[], pd.DataFrame]:
    """Reads the project's raw data (params data.raw) in the scratch folder; ingests an example
    data set first."""

    def read() -> pd.DataFrame:
        data = load_params().data
        if data.source is not None:  # none once `make adopt` made the data yours
            ingest(data.source, data.raw)
        return read_table(data.raw, load_contract())

    return read


@pytest.fixture
def messy() -> Callable[..., tuple[pd.DataFrame, Contract]]:
    """Builds a data set with missing values and string categories, and its contract."""
    return make_messy


def make_messy(task: str, rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, Contract]:
    """A data set with missing values and string categories, and its contract."""
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, rows)
    colour = rng.choice(["red", "green", "blue"], rows).astype(object)
    signal = size + 4 * (colour == "red") + rng.normal(0, 1, rows)
    frame = pd.DataFrame({"size": size, "colour": colour})
    frame.loc[rng.random(rows) < 0.1, "size"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "colour"] = np.nan
    if task == "classification":
        frame["label"] = np.where(signal > np.median(signal), "high", "low")
    else:
        frame["label"] = signal
    columns = {
        "size": Column(name="size", dtype="float"),
        "colour": Column(name="colour", dtype="str"),
        "label": Column(
            name="label",
            dtype="str" if task == "classification" else "float",
            role="target",
        ),
    }
    return frame, Contract(columns=columns)
