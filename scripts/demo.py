"""`make demo`: bake the default project and run its whole life on this machine.

validate -> train -> evaluate (make repro) -> gate -> report -> register -> package -> serve,
then predictions over HTTP on 127.0.0.1 (logged by the service), `make monitor` on that log,
and a summary of where everything went.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import yaml
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
BUILD = TEMPLATE / "build" / "demo"


def step(
    title: str, command: list[str], cwd: Path, env: dict[str, str], allowed: tuple[int, ...] = (0,)
) -> None:
    """Run one command of the project's life, stopping the demo when it fails."""
    print(f"\n==> {title}: {' '.join(command)}", flush=True)
    started = time.monotonic()
    code = subprocess.run(command, cwd=cwd, env=env, check=False).returncode
    if code not in allowed:
        raise SystemExit(f"demo: {title} failed (exit {code}); the output above says why")
    print(f"<== {title} ({time.monotonic() - started:.1f}s)", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    """Poll /readyz until the server answers (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s")


def sample_request(project: Path, rows: int) -> dict:
    """The first test rows' features, as a client would send them."""
    contract = yaml.safe_load((project / "contract.yaml").read_text())["columns"]
    features = [name for name, spec in contract.items() if spec.get("role", "feature") == "feature"]
    frame = pd.read_parquet(project / "data/split/test.parquet")[features].head(rows)
    return {
        "records": [
            {
                k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
                for k, v in row.items()
            }
            for _, row in frame.iterrows()
        ]
    }


def main() -> int:
    shutil.rmtree(BUILD, ignore_errors=True)
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(BUILD)))
    print(f"baked {project}")
    env = {
        **os.environ,
        "BENTOML_HOME": str(BUILD / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    env.pop("PREDICTION_LOG_DIR", None)  # the project's default: logs/predictions
    # The project's make runs as a user's would: `make demo VENV=...` names the template's venv,
    # and an inherited VENV would make the project's `make setup` sync that venv to the
    # project's lock instead of creating build/demo/<project>/.venv.
    for name in ("VENV", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(name, None)
    for key, value in (("user.name", "Demo"), ("user.email", "demo@example.com")):
        if subprocess.run(["git", "config", key], cwd=project, capture_output=True).returncode:
            subprocess.run(["git", "config", key, value], cwd=project, check=True)
    step("setup", ["make", "setup"], project, env)
    step("validate, split, train, evaluate", ["make", "repro"], project, env)
    # The gate judges a commit (register checks the verdict against HEAD): commit first.
    step("commit", ["git", "add", "-A"], project, env)
    step("commit", ["git", "commit", "-q", "-m", "First model"], project, env)
    step("gate", ["make", "gate"], project, env)
    step("report", ["make", "report"], project, env)
    step("register", ["make", "register"], project, env)
    step("versions", ["make", "versions"], project, env)
    step("package", ["make", "package"], project, env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"\n==> serve: make serve PORT={port}", flush=True)
    server = subprocess.Popen(
        ["make", "serve", f"PORT={port}"], cwd=project, env=env, start_new_session=True
    )
    try:
        wait_ready(url, server)
        for rows in (1, 100):
            body = json.dumps(sample_request(project, rows)).encode()
            request = urllib.request.Request(
                f"{url}/predict", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())
            shown = body.decode() if rows == 1 else f"<{rows} records>"
            print(f"POST {url}/predict {shown}\n  -> {json.dumps(answer)[:400]}")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    # 0 ok, 2 warn, 3 alarm: each is a result, not a failure of the demo.
    if not any((project / "logs" / "predictions").glob("*.jsonl")):
        raise RuntimeError(f"no prediction log in {project / 'logs/predictions'}")
    step("monitor the logged predictions", ["make", "monitor"], project, env, allowed=(0, 2, 3))
    print(
        "\ndemo: the project's whole life ran. Where everything went:\n"
        f"  project        {project}\n"
        f"  metrics        {project / 'reports/metrics.json'}\n"
        f"  gate verdict   {project / 'reports/gate.json'}\n"
        f"  PR report      {project / 'reports/report.md'}\n"
        f"  model          {project / 'models/model.skops'}\n"
        f"  registry       git tags in {project} (make versions)\n"
        f"  bento          {BUILD / 'bentoml'} (BENTOML_HOME)\n"
        f"  prediction log {project / 'logs/predictions'}\n"
        f"  monitoring     {project / 'reports/monitor.md'}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
