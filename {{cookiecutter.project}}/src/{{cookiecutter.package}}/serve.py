"""Serve: the bento of HEAD's registered version, packaged first when needed (`make serve`)."""

from __future__ import annotations

import argparse
import os
import sys

from {{ cookiecutter.package }}.package import package
from {{ cookiecutter.package }}.registry import RegistryError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `serve`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0: all)")
    parser.add_argument("--port", type=int, default=3000)


def main(args: argparse.Namespace) -> int:
    """CLI entry: replace this process with `bentoml serve <model>:<version>`."""
    try:
        bento = package()
    except RegistryError as error:
        print(f"serve: refused: {error}", file=sys.stderr)
        return 1
    command = [sys.executable, "-m", "bentoml", "serve", str(bento.tag)]
    command += ["--host", args.host, "--port", str(args.port)]
    print(f"serve: {' '.join(command[1:])}", flush=True)
    os.execv(sys.executable, command)
    return 0  # not reached: execv does not return
