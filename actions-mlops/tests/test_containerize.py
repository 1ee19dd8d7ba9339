"""`make containerize` runs BentoML's containerize command without its noise (issue 26 item 9):
click's five "The parameter --quiet is used more than once" UserWarnings per run."""

import subprocess
import sys

from actions_mlops.release.containerize import quiet_env


def test_bentoml_containerize_runs_without_clicks_warnings():
    command = [sys.executable, "-m", "bentoml", "containerize", "--help"]
    plain = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "is used more than once" in plain.stderr  # BentoML 1.4 as installed: the noise
    quiet = subprocess.run(command, capture_output=True, text=True, check=True, env=quiet_env())
    assert "UserWarning" not in quiet.stderr and "containerize" in quiet.stdout
