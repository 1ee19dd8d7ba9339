"""The default model's container image, for the serving bench (issue 21, item 3): the bento built
and containerized as `make package containerize` does (release/package.py's `build_bento`, then
`bentoml containerize` with the classic builder when there is no buildx), then `docker run` on
127.0.0.1, measured like the servers run from source: time from `docker run` to /readyz 200,
memory idle (after a warm-up) and after the load runs, p50 at 1 and 100 records.

Memory two ways: the container's cgroup (`docker stats`: every process of the container, page
cache excluded) and the resident set of its largest process (`docker top`), the worker, as the
from-source table's "worker MB".

Needs a Docker engine and the bento's base image (`python:3.11-slim`) present locally; the
bench skips this part (with a note) when `docker info` fails. It builds one image (minutes the
first time, seconds with Docker's layer cache): full runs do it, `--quick` runs only with
BENCH_IMAGE=1. On a shared machine run the bench under `flock /tmp/docker.lock`. The container,
its anonymous volume and the image are removed at the end, also on failure.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

READY_TIMEOUT = 180
BUILD_TIMEOUT = 1800
UNITS = {"B": 1 / 1024**2, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "kB": 1e3 / 1024**2}
UNITS |= {"MB": 1e6 / 1024**2, "GB": 1e9 / 1024**2}


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {args[0]} failed: {(result.stderr or result.stdout)[-2000:]}")
    return result.stdout.strip()


def engine_ready() -> bool:
    """Whether a Docker engine answers."""
    try:
        docker("info", "--format", "{{.ServerVersion}}", timeout=30)
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return False
    return True


def mebibytes(text: str) -> float:
    """'123.4MiB' -> 123.4."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]+)\s*", text)
    if not match or match[2] not in UNITS:
        raise RuntimeError(f"unreadable memory figure {text!r}")
    return round(float(match[1]) * UNITS[match[2]], 1)


def container_memory(name: str) -> dict[str, Any]:
    """The container's cgroup memory and its processes' resident sets, in MiB."""
    stats = json.loads(docker("stats", "--no-stream", "--format", "{{json .}}", name))
    top = docker("top", name, "-eo", "pid,rss").splitlines()[1:]  # pid, kB per process
    rss = sorted((int(line.split()[1]) / 1024 for line in top), reverse=True)
    return {
        "cgroup_mb": mebibytes(stats["MemUsage"].split("/")[0]),
        "processes": len(rss),
        "largest_process_mb": round(rss[0], 1) if rss else None,
    }


def build_image(project: Path, python: Path, env: dict[str, str], tag: str, log: Path) -> str:
    """The bento of model `tag` (already in the BentoML store) and its image; the image name."""
    package = env["BENCH_PACKAGE"]
    build = (
        f"import bentoml; from {package}.core.config import load_params;"
        f" from {package}.release.package import build_bento;"
        f" print(build_bento(load_params(), bentoml.models.get({tag!r})).tag)"
    )
    with log.open("a") as out:
        subprocess.run(
            [str(python), "-c", build], cwd=project, env=env, stdout=out, stderr=out, check=True
        )
        image = f"bench-serving-image:{tag.partition(':')[2]}"
        command = [str(python), "-m", "bentoml", "containerize", tag, "--image-tag", image]
        # As release/containerize.py: from a temporary folder, the classic builder.
        subprocess.run(
            command,
            cwd=tempfile.gettempdir(),
            env=env | {"DOCKER_BUILDKIT": "0"},
            stdout=out,
            stderr=out,
            check=True,
            timeout=BUILD_TIMEOUT,
        )
    return image


def wait_ready(url: str, name: str, started: float) -> float:
    deadline = started + READY_TIMEOUT
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2):
                return round(time.perf_counter() - started, 2)
        except OSError:
            if docker("inspect", "--format", "{{.State.Running}}", name) != "true":
                break
            time.sleep(0.1)
    logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
    raise RuntimeError(f"container not ready: {(logs.stdout + logs.stderr)[-2000:]}")


def measure_image(
    project: Path,
    python: Path,
    env: dict[str, str],
    tag: str,
    bodies: dict[int, Path],
    drive: Callable[[int, Path, int, float], dict[str, Any]],
    port: int,
    seconds: float,
    work: Path,
) -> dict[str, Any]:
    """Build the image of model `tag`, run it, measure it, remove it."""
    started = time.perf_counter()
    image = build_image(project, python, env, tag, work / "image.log")
    result: dict[str, Any] = {
        "image": image,
        "build_s": round(time.perf_counter() - started, 1),
        "size_mb": round(int(docker("image", "inspect", "--format", "{{.Size}}", image)) / 1e6),
    }
    name = f"bench-serving-{time.time_ns()}"
    try:
        started = time.perf_counter()
        docker("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:3000", image)
        result["ready_s"] = wait_ready(f"http://127.0.0.1:{port}", name, started)
        drive(port, bodies[1], 1, 1.0)  # warm-up, as from source
        result["memory_idle"] = container_memory(name)
        runs = {}
        for size, body in bodies.items():
            drive(port, body, 1, 0.5)
            runs[f"{size}x1"] = drive(port, body, 1, seconds)
        result["runs"] = runs
        result["memory_loaded"] = container_memory(name)
    finally:
        docker("rm", "--force", "--volumes", name, check=False)
        docker("rmi", image, check=False)
    return result
