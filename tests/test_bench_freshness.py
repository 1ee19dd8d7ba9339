"""`make bench-check`: a result file is stale once a later commit changed what it measures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench.freshness import stale_results

USER = ["-c", "user.name=T", "-c", "user.email=t@example.com"]


def commit(root: Path, message: str) -> str:
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", *USER, "commit", "-qm", message], cwd=root, check=True)
    head = ["git", "rev-parse", "--short", "HEAD"]
    return subprocess.run(head, cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def result(root: Path, name: str, **machine: object) -> None:
    path = root / "bench" / "results" / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine}), encoding="utf-8")


def test_results_go_stale_when_what_they_measure_changes(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", tmp_path], check=True)
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "actions-mlops" / "src").mkdir(parents=True)
    (tmp_path / "actions-mlops" / "src" / "code.py").write_text("x = 1\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("")
    measured = commit(tmp_path, "code")
    result(tmp_path, "serving", template_commit=measured, template_dirty=False)
    result(tmp_path, "testsuite", template_commit=measured, template_dirty=False)
    result(tmp_path, "scaling")  # from before results named their commit
    result(tmp_path, "prcache", template_commit=measured, template_dirty=True)
    commit(tmp_path, "results")
    results = tmp_path / "bench" / "results"
    assert [line.split(":")[0] for line in stale_results(tmp_path, results)] == [
        "bench/results/prcache.json",
        "bench/results/scaling.json",
    ]

    (tmp_path / "tests" / "test_x.py").write_text("# a test changed\n")
    commit(tmp_path, "a test changed")  # what the suite's timing measures, not serving
    assert [line.split(":")[0] for line in stale_results(tmp_path, results)][-1] == (
        "bench/results/testsuite.json"
    )
    (tmp_path / "actions-mlops" / "src" / "code.py").write_text("x = 2\n")
    later = commit(tmp_path, "faster code")
    lines = stale_results(tmp_path, results)
    assert len(lines) == 4
    assert f"bench/results/serving.json: measured on {measured}; 1 later commit(s) changed" in (
        "\n".join(lines)
    )
    assert f"(latest: {later} faster code)" in lines[2]
