"""Reject invalid answers before cookiecutter writes the project.

Each check names the field and gives a valid example. On any failure the hook
exits 1 and cookiecutter removes the half-made project directory.
"""

import keyword
import re
import sys

ANSWERS = {
    "project_name": {{ cookiecutter.project_name | tojson }},
    "project": {{ cookiecutter.project | tojson }},
    "package": {{ cookiecutter.package | tojson }},
    "author_email": {{ cookiecutter.author_email | tojson }},
    "github_owner": {{ cookiecutter.github_owner | tojson }},
    "python_version": {{ cookiecutter.python_version | tojson }},
    "task": {{ cookiecutter.task | tojson }},
    "dataset": {{ cookiecutter.dataset | tojson }},
    "dvc_remote": {{ cookiecutter.dvc_remote | tojson }},
    "dvc_remote_url": {{ cookiecutter.dvc_remote_url | tojson }},
    "init_git": {{ cookiecutter.init_git | tojson }},
}

SUPPORTED_PYTHON = ("3.11", "3.12", "3.13")
DATASETS = {
    "classification": ("breast_cancer", "wine", "csv"),
    "regression": ("diabetes", "csv"),
}
# Import names the generated project depends on: a package of the same name would shadow them.
DEPENDENCY_IMPORTS = {
    "bentoml", "dvc", "gto", "numpy", "pandas", "pandera", "pyarrow", "pytest",
    "scipy", "sklearn", "skops", "yaml", "ruff", "src", "tests", "test",
}
REMOTE_SCHEMES = {"s3": "s3://", "gs": "gs://", "azure": "azure://"}


def check(answers: dict[str, str]) -> list[str]:
    """Return one message per invalid answer."""
    errors = []
    slug, package = answers["project"], answers["package"]
    if not answers["project_name"].strip():
        errors.append("project_name: must not be empty (example: 'Churn Model')")
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", slug):
        errors.append(
            f"project: {slug!r} is not a slug of lowercase letters, digits and single hyphens "
            "starting with a letter (example: 'churn-model')"
        )
    if len(package) > 40:
        errors.append(f"package: {package!r} is longer than 40 characters (example: 'churn_model')")
    elif not package.isidentifier() or not re.fullmatch(r"[a-z_][a-z0-9_]*", package):
        errors.append(
            f"package: {package!r} is not a lowercase Python identifier (example: 'churn_model')"
        )
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        errors.append(f"package: {package!r} is a Python keyword (example: 'churn_model')")
    elif package in sys.stdlib_module_names:
        errors.append(
            f"package: {package!r} clashes with the standard library module of that name "
            "(example: 'churn_model')"
        )
    elif package in DEPENDENCY_IMPORTS:
        errors.append(
            f"package: {package!r} clashes with the installed package {package!r} the project "
            "depends on (example: 'churn_model')"
        )
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", answers["author_email"]):
        errors.append(
            f"author_email: {answers['author_email']!r} is not an email address "
            "(example: 'ds-team@example.com')"
        )
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}", answers["github_owner"]):
        errors.append(
            f"github_owner: {answers['github_owner']!r} is not a GitHub user or organisation name "
            "(example: 'example-org')"
        )
    if answers["python_version"] not in SUPPORTED_PYTHON:
        errors.append(
            f"python_version: {answers['python_version']!r} is not supported; "
            f"choose one of {', '.join(SUPPORTED_PYTHON)} (example: '3.11')"
        )
    task, dataset = answers["task"], answers["dataset"]
    if task not in DATASETS:
        errors.append(f"task: {task!r} is unknown; choose classification or regression")
    elif dataset not in DATASETS[task]:
        errors.append(
            f"dataset: {dataset!r} does not fit task {task!r}; "
            f"choose one of {', '.join(DATASETS[task])} (example: '{DATASETS[task][0]}')"
        )
    remote, url = answers["dvc_remote"], answers["dvc_remote_url"].strip()
    if remote == "none" and url:
        errors.append("dvc_remote_url: must be empty when dvc_remote is 'none'")
    if remote != "none" and not url:
        errors.append(f"dvc_remote_url: required for dvc_remote {remote!r} (example: 's3://bucket/path')")
    scheme = REMOTE_SCHEMES.get(remote)
    if scheme and url and not url.startswith(scheme):
        errors.append(
            f"dvc_remote_url: {url!r} does not fit dvc_remote {remote!r} "
            f"(example: '{scheme}my-bucket/{slug}')"
        )
    if remote == "local" and "://" in url:
        errors.append(f"dvc_remote_url: {url!r} must be a folder path for the local remote")
    if answers["init_git"] not in ("yes", "no"):
        errors.append(f"init_git: {answers['init_git']!r} must be 'yes' or 'no'")
    return errors


if __name__ == "__main__":
    problems = check(ANSWERS)
    if problems:
        print("\nERROR: invalid answers, nothing was generated:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print("", file=sys.stderr)
        sys.exit(1)
