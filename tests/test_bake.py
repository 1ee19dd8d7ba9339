"""Bake every valid option combination and check what was generated, statically."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import CHOICES, DATASETS, bake, make, run, variant_id, variants

ALL = list(variants())
WORKFLOWS = (
    "pr", "pr-comment", "release", "promote", "monitor", "retrain", "sweep", "template-update",
)  # fmt: skip
TESTS = (
    "config", "contract", "drift", "gate", "metrics", "modelfile", "monitor", "pipeline",
    "registry", "report", "service", "serving_imports", "split", "sweep", "train", "validate",
    "layout", "params_read", "evaluate", "adopt", "fastpath",
)  # fmt: skip
# The package, grouped by the flow: data -> training -> release -> serving -> monitoring, on a
# core every part imports; cli and checks on top.
PACKAGE = {
    "": ("__init__", "__main__", "cli", "checks", "adopt"),
    "core": ("__init__", "config", "typed", "errors", "outputs", "modelfile", "git"),
    "data": (
        "__init__", "contract", "tables", "rules", "infer", "leakage", "validate", "split",
        "features",
    ),
    "training": ("__init__", "estimator", "train", "metrics", "evaluate", "sweep"),
    "release": (
        "__init__", "fingerprint", "champion", "gate", "changes", "report", "registry", "versions",
        "promote", "modelcard", "artifacts", "package", "serve", "containerize",
    ),
    "serving": ("__init__", "service", "predictionlog", "flags", "fastpath"),
    "monitoring": ("__init__", "reference", "drift", "monitor", "retrain"),
}  # fmt: skip
MODULES = tuple(
    f"{part}/{name}" if part else name for part, names in PACKAGE.items() for name in names
)
COMMON = {
    ".dvc",
    ".dvc/.gitignore",
    ".dvc/config",
    ".dvcignore",
    ".gitignore",
    ".github",
    ".github/dependabot.yml",
    ".github/workflows",
    ".pre-commit-config.yaml",
    "Makefile",
    "README.md",
    "bento.Dockerfile.j2",
    "bentofile.yaml",
    "contract.yaml",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    "src",
    "src/{pkg}",
    *(f"src/{{pkg}}/{part}" for part in PACKAGE if part),
    "tests",
    "tests/conftest.py",
    "uv.lock",
    *(f".github/workflows/{name}.yml" for name in WORKFLOWS),
    *(f"tests/test_{name}.py" for name in TESTS),
    *(f"src/{{pkg}}/{name}.py" for name in MODULES),
}
EXAMPLE_ONLY = {"src/{pkg}/data/ingest.py", "tests/test_data.py"}
CSV_ONLY = {"data", "data/raw", "data/raw/dataset.csv"}
# Jinja that was not rendered: a cookiecutter variable, a block tag, or an expression opener
# (GitHub's ${{ }} expressions are meant to stay).
LEFTOVER = re.compile(r"cookiecutter\.\w|\{%-?\s|\s-?%\}|(?<!\$)\{\{\s")


def expected_paths(options: dict[str, str], package: str) -> set[str]:
    """Exactly the files and folders a project with these options must contain."""
    paths = COMMON | (CSV_ONLY if options["dataset"] == "csv" else EXAMPLE_ONLY)
    return {path.format(pkg=package) for path in paths}


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
        if path.is_file() and ".git" not in path.parts and path.suffix != ".j2":
            text = path.read_text(encoding="utf-8")
            assert not LEFTOVER.search(text), f"template syntax left in {path.relative_to(project)}"
    assert (project / ".git").is_dir() == (options["init_git"] == "yes")

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={options['python_version']}"
    dvc = [d for d in pyproject["project"]["dependencies"] if d.startswith("dvc")]
    remote = options["dvc_remote"]
    assert dvc == [f"dvc[{remote}]>=3.60,<4" if remote in ("s3", "gs", "azure") else "dvc>=3.60,<4"]
    # The shipped lock of these options, with the project's name written in: the lock resolves
    # exactly this pyproject.toml (tests/test_locks.py asks uv whether it is current).
    lock = tomllib.loads((project / "uv.lock").read_text())
    assert lock["requires-python"] == pyproject["project"]["requires-python"]
    (own,) = [entry for entry in lock["package"] if entry["source"] == {"editable": "."}]
    assert own["name"] == project.name
    (locked_dvc,) = [d for d in own["metadata"]["requires-dist"] if d["name"] == "dvc"]
    assert locked_dvc.get("extras", []) == ([remote] if remote in ("s3", "gs", "azure") else [])
    dvc_config = (project / ".dvc" / "config").read_text()
    assert ("remote = storage" in dvc_config) == (remote != "none")
    assert yaml.safe_load((project / "params.yaml").read_text())["task"] == options["task"]

    run(["ruff", "check", "--no-cache", "."], project)
    run(["ruff", "format", "--no-cache", "--check", "."], project)


# The options that shape the Python code: the task, the data set, the Python version mypy checks
# against (the remote, license and git answers change no Python file).
TYPED = [
    {"task": task, "dataset": dataset, "python_version": python, "dvc_remote": "none"}
    for task, datasets in DATASETS.items()
    for dataset in datasets
    for python in CHOICES["python_version"]
] + [  # the remote shapes champion.py's "not available" errors (the remote SDK's own)
    {"task": "classification", "dataset": "csv", "python_version": "3.11", "dvc_remote": remote}
    for remote in ("s3", "gs", "azure")
]


@pytest.mark.parametrize("options", TYPED, ids=lambda o: "-".join(o.values()))
def test_bake_type_checks_clean(options, tmp_path, pytestconfig, project_env, worker_id):
    """`make typecheck` (mypy, part of `make check`) finds nothing in the package or its tests,
    for every combination of the options that shape the code."""
    project = bake(tmp_path, init_git="no", **options)
    # One cache per Python version and xdist worker (mypy's cache is not safe for two processes),
    # kept between runs in pytest's cache: every bake has the same module names, so a run
    # re-checks only the files that differ (about 4 s instead of 50 s).
    cache = pytestconfig.cache.mkdir(f"mypy-{options['python_version']}-{worker_id}")
    result = make(project, "typecheck", project_env, env={"MYPY_CACHE_DIR": str(cache)})
    assert "Success: no issues found" in result.stdout
