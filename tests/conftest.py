"""Bake helper, option generator and the one virtual environment shared by baked projects."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
# A baked project's `make` runs as a user's would, at the top level, even under our own
# `make test`: no inherited jobserver, no "make[1]: Entering directory" lines in its output.
for _name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
    os.environ.pop(_name, None)
# This environment's tools (ruff, dvc, ...) come first, however pytest was started.
TOOLS_PATH = os.pathsep.join([str(Path(sys.prefix) / "bin"), os.environ.get("PATH", "")])
CHOICES = {
    k: v
    for k, v in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items()
    if isinstance(v, list)
}
DATASETS = {"classification": ("breast_cancer", "wine", "csv"), "regression": ("diabetes", "csv")}


def valid(options: dict[str, str]) -> bool:
    """The validity rule: the data set must fit the task."""
    return options["dataset"] in DATASETS[options["task"]]


def variants() -> Iterator[dict[str, str]]:
    """Every valid combination of the options that shape the code (task, dataset, remote, Python),
    with the options that only change a line or two (license, git init) cycled through."""
    shaping = ("task", "dataset", "dvc_remote", "python_version")
    cycled = {name: itertools.cycle(CHOICES[name]) for name in CHOICES if name not in shaping}
    for values in itertools.product(*(CHOICES[name] for name in shaping)):
        options = dict(zip(shaping, values, strict=True))
        if valid(options):
            yield options | {name: next(choice) for name, choice in cycled.items()}


def variant_id(options: dict[str, str]) -> str:
    return "-".join(options[k] for k in ("task", "dataset", "dvc_remote", "python_version"))


def bake(output: Path, **context: str) -> Path:
    """Bake the template into `output` with cookiecutter's own API; return the project folder."""
    output.mkdir(parents=True, exist_ok=True)
    return Path(
        cookiecutter(str(TEMPLATE), no_input=True, extra_context=context, output_dir=str(output))
    )


def run(
    command: list[str] | str,
    cwd: Path,
    *,
    check: bool = True,
    env: dict | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; on failure show it in the assertion."""
    result = subprocess.run(
        command,
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, "PATH": TOOLS_PATH, **(env or {})},
        shell=isinstance(command, str),
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{command} failed ({result.returncode}) in {cwd}\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


@pytest.fixture(scope="session")
def project_env() -> Path:
    """The environment baked projects run in: this one, which `make setup` installed once with
    every generated project's pinned dependencies (requirements-dev.txt)."""
    return Path(sys.prefix)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker engine that answers, with the base image the bento's Dockerfile names. As root,
    scripts/docker-base.sh installs and starts what is missing (as .ci/run does). No engine:
    skipped on a developer's machine, failed in CI (CI=true), where the container must be tested."""
    if shutil.which("docker") and os.geteuid() == 0:
        run([str(TEMPLATE / "scripts" / "docker-base.sh")], TEMPLATE, timeout=900)
    docker = shutil.which("docker")
    if not docker or run([docker, "info"], TEMPLATE, check=False).returncode != 0:
        reason = "no Docker engine answers `docker info` (scripts/docker-base.sh starts one)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


@pytest.fixture
def mypy_cache(pytestconfig: pytest.Config, worker_id: str) -> Callable[[str], dict[str, str]]:
    """The environment of a project's `make typecheck` or `make check` that shares mypy's cache:
    one per Python version and xdist worker (mypy's cache is not safe for two processes), kept
    between runs in pytest's cache. Every bake has the same module names, so a run re-checks only
    the files that differ (about 4 s instead of 50 s)."""

    def env(python_version: str = "3.11") -> dict[str, str]:
        assert pytestconfig.cache is not None, "mypy_cache needs pytest's cache provider"
        cache = pytestconfig.cache.mkdir(f"mypy-{python_version}-{worker_id}")
        return {"MYPY_CACHE_DIR": str(cache)}

    return env


def make(project: Path, target: str, env_dir: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run one of the project's own make targets in the shared environment."""
    return run(["make", target, f"VENV={env_dir}"], project, **kwargs)


# Time per phase (one phase = one test file), printed at the end of every run.
PHASES: dict[str, list[float]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    phase = report.nodeid.split("::", 1)[0]
    PHASES.setdefault(phase, [0, 0.0])
    PHASES[phase][1] += report.duration
    if report.when == "call":
        PHASES[phase][0] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    if not PHASES:
        return
    terminalreporter.section("time per phase (summed over workers)")
    for phase, (count, seconds) in sorted(PHASES.items(), key=lambda item: -item[1][1]):
        terminalreporter.write_line(f"{phase:<40} {count:>4} tests {seconds:>8.1f}s")
