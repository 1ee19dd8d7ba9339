"""This project's own code: its features.

Project: {{ cookiecutter.project_name }}.
The pipeline, gate, registry, service and monitor come from the actions-mlops package
(`actions-mlops --help`).
"""
