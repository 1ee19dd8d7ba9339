"""`make containerize` runs BentoML's containerize command without its noise (issue 26 item 9):
click's five "The parameter --quiet is used more than once" UserWarnings per run, and Docker's
three-line legacy-builder notice when the classic builder builds (tests/test_container.py
checks a real build's output)."""

import subprocess
import sys

import pytest

from actions_mlops.release.containerize import quiet_env, without_legacy_notice


def test_bentoml_containerize_runs_without_clicks_warnings():
    command = [sys.executable, "-m", "bentoml", "containerize", "--help"]
    plain = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "is used more than once" in plain.stderr  # BentoML 1.4 as installed: the noise
    quiet = subprocess.run(command, capture_output=True, text=True, check=True, env=quiet_env())
    assert "UserWarning" not in quiet.stderr and "containerize" in quiet.stdout


@pytest.mark.parametrize("prefix", ["", "INFO: "])  # as Docker prints it, as BentoML relays it
def test_dockers_legacy_builder_notice_is_dropped_and_nothing_else(prefix):
    notice = [
        "DEPRECATED: The legacy builder is deprecated and will be removed in a future release.",
        "            Install the buildx component to build images with BuildKit:",
        "            https://docs.docker.com/go/buildx/",
        "DEPRECATED: The legacy builder is deprecated and will be removed in a future release.",
        "            BuildKit is currently disabled; enable it by removing the DOCKER_BUILDKIT=0",
        "            environment-variable.",
    ]
    kept = ["Step 1/2 : FROM python:3.11-slim", "  ---> f754608f801c", "", "Successfully built 7d"]
    output = [f"{prefix}{line}\n" for line in [kept[0], *notice, *kept[1:]]]
    assert list(without_legacy_notice(output)) == [f"{prefix}{line}\n" for line in kept]
