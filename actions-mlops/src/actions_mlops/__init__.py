"""actions-mlops: the pipeline, gate, registry, service and monitor of a GitHub Actions-native
MLOps project. A project made from the cookiecutter-actions-mlops template depends on it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("actions-mlops")  # pyproject.toml is its one definition
except PackageNotFoundError:  # a bento carries the serving modules without the package metadata
    __version__ = "unknown"
