"""A failed run loses nothing: after a good `make repro`, a bad setting or a stage that fails
midway leaves the model and every report byte-identical, with one clear line saying why."""

from __future__ import annotations

import hashlib

import pytest
from conftest import bake, make, run

KEPT = ["models/model.skops", "dvc.lock", "reports/*.json", "reports/*.md", "reports/plots/*"]


def fingerprint(project) -> dict[str, str]:
    files = sorted({p for pattern in KEPT for p in project.glob(pattern) if p.is_file()})
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.mark.slow
def test_a_failed_run_keeps_the_last_good_model_and_reports(tmp_path, project_env):
    project = bake(tmp_path, task="classification", dataset="breast_cancer")
    run("git add -A && git commit -qm baked", project)
    make(project, "repro", project_env)
    run("git add -A && git commit -qm repro", project)
    good = fingerprint(project)
    assert {"models/model.skops", "reports/metrics.json", "reports/plots/roc.csv"} <= set(good)
    params = (project / "params.yaml").read_text()
    dvc = str(project_env / "bin" / "dvc")

    def broken(old: str, new: str, command: list[str]) -> str:
        """Run `command` with `old` replaced by `new` in params.yaml; return its stderr."""
        assert old in params
        (project / "params.yaml").write_text(params.replace(old, new, 1))
        result = run(command, project, check=False, env={"PYTHONPATH": str(project / "src")})
        (project / "params.yaml").write_text(params)
        assert result.returncode != 0, result.stdout
        assert fingerprint(project) == good, f"{command} with {new!r} changed outputs"
        return result.stderr

    # Stopped by the up-front check: DVC never starts, one line names file, key and value.
    estimator = "sklearn.linear_model.LogisticRegression"
    typo = "sklearn.linear_model.LogisticRegresion"
    error = broken(estimator, typo, ["make", "repro", f"VENV={project_env}"])
    assert f"params.yaml: model.estimator: {typo} — an importable class" in error
    assert "Traceback" not in error
    error = broken("\nevaluate:", "\nevalute:", ["make", "repro", f"VENV={project_env}"])
    assert "params.yaml: evalute: " in error and "did you mean evaluate?" in error
    assert "Traceback" not in error

    # `dvc repro` run directly (no up-front check): the train stage fails once DVC started it.
    error = broken(estimator, typo, [dvc, "repro"])
    assert f"params.yaml: model.estimator: {typo} — an importable class" in error
    assert "Traceback" not in error
    # A stage that fails midway, after reading the model and the test split.
    error = broken("slices: [mean radius]", "slices: [no such column]", [dvc, "repro"])
    assert "failed to reproduce 'evaluate'" in error

    # The good state is still the pipeline's: nothing to rerun, nothing changed in git.
    status = run([dvc, "status"], project)
    assert "up to date" in status.stdout, status.stdout
    assert run("git status --porcelain", project).stdout == ""
