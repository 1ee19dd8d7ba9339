"""Pipeline, registry and service of {{ cookiecutter.project }}."""
