"""Serve: the bento of HEAD's registered version, packaged first when needed (`make serve`).

The endpoint is open unless the environment variable API_KEY is set (clients then send
`Authorization: Bearer <API_KEY>`). Open is allowed only on a loopback address: serving on any
other host (HOST=0.0.0.0) without API_KEY is refused, unless ALLOW_NO_API_KEY=1 says another
layer (a gateway, a private network) guards the service.

The bento runs in its own folder of the BentoML store: the prediction log is pointed at this
project's folder (params monitor.log_dir, or PREDICTION_LOG_DIR when set) as an absolute path,
where `make monitor` reads it.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import sys

from actions_mlops.core.config import (
    PREDICTION_LOG_ENV,
    load_params,
    log_folder,
)
from actions_mlops.release.package import package
from actions_mlops.release.registry import RegistryError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `serve`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0: all)")
    parser.add_argument("--port", default="3000", help="a port number, 1 to 65535")


# A host name or an IPv4/IPv6 address, and a port number: what `make serve HOST=... PORT=...`
# may pass on (they reach bentoml's command line; refused in one line otherwise).
HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,252}")
PORT = re.compile(r"[0-9]{1,5}")


def address_refusal(host: str, port: str) -> str | None:
    """Why `host` or `port` is not an address to serve on, or None."""
    if not HOST.fullmatch(host):
        return f"--host {host!r} is not a host name or an IP address"
    if not PORT.fullmatch(port) or not 1 <= int(port) <= 65535:
        return f"--port {port!r} is not a port number (1 to 65535)"
    return None


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def open_refusal(host: str) -> str | None:
    """Why serving on `host` is refused, or None: no API key on a non-loopback address."""
    if is_loopback(host) or os.environ.get("API_KEY") or os.environ.get("ALLOW_NO_API_KEY") == "1":
        return None
    return (
        f"--host {host} exposes the service beyond this machine without a key: set API_KEY "
        "(clients send Authorization: Bearer <key>), or ALLOW_NO_API_KEY=1 when another layer "
        "guards it"
    )


def main(args: argparse.Namespace) -> int:
    """CLI entry: replace this process with `bentoml serve <model>:<version>`."""
    refusal = address_refusal(args.host, str(args.port)) or open_refusal(args.host)
    if refusal:
        print(f"serve: refused: {refusal}", file=sys.stderr)
        return 1
    try:
        bento = package()
    except RegistryError as error:
        print(f"serve: refused: {error}", file=sys.stderr)
        return 1
    folder = log_folder(load_params().monitor.log_dir)
    os.environ[PREDICTION_LOG_ENV] = str(folder.resolve())
    print(f"serve: prediction log in {os.environ[PREDICTION_LOG_ENV]}", flush=True)
    command = [sys.executable, "-m", "bentoml", "serve", str(bento.tag)]
    command += ["--host", args.host, "--port", str(args.port)]
    print(f"serve: {' '.join(command[1:])}", flush=True)
    os.execv(sys.executable, command)
    return 0  # not reached: execv does not return
