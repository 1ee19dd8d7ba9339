"""Bake every valid option combination and check what was generated, statically."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import CHOICES, TEMPLATE, bake, make, run, variant_id, variants

ALL = list(variants())
WORKFLOWS = (
    "pr", "pr-comment", "release", "promote", "monitor", "retrain", "sweep", "template-update",
    "site", "batch",
)  # fmt: skip
# The project's own code and tests: its features, a test of them and a smoke run on its data.
# Everything else is the actions-mlops package (actions-mlops/), a dependency.
TESTS = ("features", "smoke")
MODULES = ("__init__", "features")
COMMON = {
    ".dvc",
    ".dvc/.gitignore",
    ".dvc/config",
    ".dvcignore",
    ".gitignore",
    ".github",
    ".github/dependabot.yml",
    ".github/actions",
    ".github/actions/setup",
    ".github/actions/setup/action.yml",
    ".github/actions/registry-login",
    ".github/actions/registry-login/action.yml",
    ".python-version",
    ".github/workflows",
    ".pre-commit-config.yaml",
    "Makefile",
    "README.md",
    "bentofile.yaml",
    "contract.yaml",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    "src",
    "templates",
    "templates/model-card.md.j2",
    "src/{pkg}",
    "tests",
    "tests/conftest.py",
    "uv.lock",
    "vendor",
    "vendor/{wheel}",
    *(f".github/workflows/{name}.yml" for name in WORKFLOWS),
    *(f"tests/test_{name}.py" for name in TESTS),
    *(f"src/{{pkg}}/{name}.py" for name in MODULES),
}
EXAMPLE_ONLY: set[str] = set()
WHEEL = next((TEMPLATE / "{{cookiecutter.project}}" / "vendor").glob("*.whl")).name
CSV_ONLY = {"data", "data/raw", "data/raw/dataset.csv"}
# Jinja that was not rendered: a cookiecutter variable, a block tag, or an expression opener
# (GitHub's ${{ }} expressions are meant to stay).
LEFTOVER = re.compile(r"cookiecutter\.\w|\{%-?\s|\s-?%\}|(?<!\$)\{\{\s")


def expected_paths(options: dict[str, str], package: str) -> set[str]:
    """Exactly the files and folders a project with these options must contain."""
    paths = COMMON | (CSV_ONLY if options["dataset"] == "csv" else EXAMPLE_ONLY)
    return {path.format(pkg=package, wheel=WHEEL) for path in paths}


def generated_paths(project: Path) -> set[str]:
    return {
        str(path.relative_to(project))
        for path in project.rglob("*")
        if ".git" not in path.relative_to(project).parts[:1]
    }


def test_the_generator_covers_every_valid_combination():
    combos = {variant_id(v) for v in ALL}
    assert len(ALL) == len(combos) == 75  # 5 task/data-set pairs x 5 remotes x 3 Pythons
    assert all(v["dataset"] in ("diabetes", "csv") for v in ALL if v["task"] == "regression")
    assert all(v["dataset"] != "diabetes" for v in ALL if v["task"] == "classification")
    for name in ("license", "init_git"):  # cycled options: every value is baked somewhere
        assert {v[name] for v in ALL} == set(CHOICES[name])


@pytest.mark.parametrize("options", ALL, ids=variant_id)
def test_bake_is_exact_rendered_and_lint_clean(options, tmp_path):
    package = f"m_{variant_id(options).replace('-', '_').replace('.', '')}"
    project = bake(tmp_path, project_name=package.replace("_", " "), package=package, **options)
    assert generated_paths(project) == expected_paths(options, package)
    for path in project.rglob("*"):  # *.j2: the project's own Jinja (BentoML renders it)
        if path.is_file() and ".git" not in path.parts and path.suffix not in (".j2", ".whl"):
            text = path.read_text(encoding="utf-8")
            assert not LEFTOVER.search(text), f"template syntax left in {path.relative_to(project)}"
    assert (project / ".git").is_dir() == (options["init_git"] == "yes")

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={options['python_version']}"
    remote = options["dvc_remote"]
    extra = f"[{remote}]" if remote in ("s3", "gs", "azure") else ""
    version = tomllib.loads((TEMPLATE / "actions-mlops" / "pyproject.toml").read_text())
    pin = f"actions-mlops{extra}=={version['project']['version']}"
    assert pyproject["project"]["dependencies"] == [pin]
    # The shipped lock of these options, with the project's name written in: the lock resolves
    # exactly this pyproject.toml (tests/test_locks.py asks uv whether it is current).
    lock = tomllib.loads((project / "uv.lock").read_text())
    assert lock["requires-python"] == pyproject["project"]["requires-python"]
    (own,) = [entry for entry in lock["package"] if entry["source"] == {"editable": "."}]
    assert own["name"] == project.name
    (platform,) = [d for d in own["metadata"]["requires-dist"] if d["name"] == "actions-mlops"]
    assert platform.get("extras", []) == ([remote] if remote in ("s3", "gs", "azure") else [])
    dvc_config = (project / ".dvc" / "config").read_text()
    assert ("remote = storage" in dvc_config) == (remote != "none")
    assert yaml.safe_load((project / "params.yaml").read_text())["task"] == options["task"]

    run(["ruff", "check", "--no-cache", "."], project)
    run(["ruff", "format", "--no-cache", "--check", "."], project)


# The project's Python (its features and tests) is the same for every answer but the Python
# version mypy checks against; the two tasks and a csv data set for good measure.
TYPED = [
    {"task": "classification", "dataset": "csv", "python_version": python, "dvc_remote": "none"}
    for python in CHOICES["python_version"]
] + [{"task": "regression", "dataset": "diabetes", "python_version": "3.11", "dvc_remote": "s3"}]


@pytest.mark.parametrize("options", TYPED, ids=lambda o: "-".join(o.values()))
def test_bake_type_checks_clean(options, tmp_path, project_env, mypy_cache):
    """`make typecheck` (mypy, part of `make check`) finds nothing in the package or its tests,
    for every combination of the options that shape the code."""
    project = bake(tmp_path, init_git="no", **options)
    result = make(project, "typecheck", project_env, env=mypy_cache(options["python_version"]))
    assert "Success: no issues found" in result.stdout
