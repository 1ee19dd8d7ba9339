"""Containerize: an OCI image of HEAD's bento, tagged for a container registry (ghcr.io).

Needs a Docker engine (`bentoml containerize`). The image is `IMAGE:<X.Y.Z>` and `IMAGE:latest`
(`--image`; `make containerize` passes the Makefile's IMAGE):
the Python base image, a virtualenv with the bento's pinned packages, the bento and its model
(bentofile.yaml, bento.Dockerfile.j2). Without the buildx plugin (e.g. Debian's docker.io), the
classic builder builds it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator

from actions_mlops.release.package import package
from actions_mlops.release.registry import RegistryError


def has_buildx() -> bool:
    """Whether `docker buildx` (BuildKit, BentoML's default builder) is installed."""
    try:
        probe = subprocess.run(["docker", "buildx", "version"], capture_output=True, check=False)
    except FileNotFoundError:
        return False
    return probe.returncode == 0


# BentoML 1.4's containerize command declares --quiet twice: click warns 5 times per run.
QUIET_TWICE = "ignore:The parameter --quiet is used more than once:UserWarning"


def quiet_env() -> dict[str, str]:
    """This process's environment, with click's warning about BentoML's --quiet ignored."""
    env = dict(os.environ)
    env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS"), QUIET_TWICE]))
    return env


# Docker's notice when the classic builder runs (every build, on stderr; BentoML relays it with
# a log prefix): the line printed above already says which builder builds and why.
LEGACY_NOTICE = "DEPRECATED: The legacy builder is deprecated"
NOTICE_CONTINUED = re.compile(r"(?:[A-Z]+: )?\s{8,}\S")  # its indented lines


def without_legacy_notice(lines: Iterable[str]) -> Iterator[str]:
    """The build's output lines, without Docker's legacy-builder notice."""
    in_notice = False
    for line in lines:
        if LEGACY_NOTICE in line:
            in_notice = True
        elif not (in_notice and NOTICE_CONTINUED.match(line)):
            in_notice = False
            yield line


def build(command: list[str], env: dict[str, str]) -> int:
    """Run BentoML's containerize, its output (stderr merged) passed on line by line."""
    # BentoML assembles the build context in a temporary folder and reads the Dockerfile
    # template from there, refusing any file outside the working directory: run it there.
    with subprocess.Popen(
        command,
        env=env,
        cwd=tempfile.gettempdir(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in without_legacy_notice(process.stdout):
            print(line, end="", flush=True)
    return process.returncode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The image's name, without a tag: the Makefile's IMAGE is its one definition."""
    parser.add_argument("--image", required=True, help="image name without tag (make: IMAGE)")


# An image name without its tag, as docker reads one: an optional registry host[:port]/, then
# lowercase path components separated by /, each of [a-z0-9] runs joined by ., _, __ or -.
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE = re.compile(rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{COMPONENT}(?:/{COMPONENT})*")


def main(args: argparse.Namespace) -> int:
    """CLI entry: package when needed, then build the image with BentoML."""
    if len(args.image) > 255 or not IMAGE.fullmatch(args.image):
        print(
            f"containerize: refused: --image {args.image!r} is not an image name "
            "([registry/]path, lowercase, without a tag)",
            file=sys.stderr,
        )
        return 2
    try:
        bento = package()
    except RegistryError as error:
        print(f"containerize: refused: {error}", file=sys.stderr)
        return 1
    semver = str(bento.tag.version).removeprefix("v")
    command = [sys.executable, "-m", "bentoml", "containerize", str(bento.tag)]
    command += ["--image-tag", f"{args.image}:{semver}", "--image-tag", f"{args.image}:latest"]
    env = quiet_env()
    if "DOCKER_BUILDKIT" not in env and not has_buildx():
        print("containerize: no docker buildx: building with the classic builder", flush=True)
        env["DOCKER_BUILDKIT"] = "0"
    return build(command, env)
