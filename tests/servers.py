"""Servers that tests and benches start on 127.0.0.1: a free port, a process group waited for
until /readyz answers (bounded), and stopped with its children (make, the CLI, the workers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ready(url: str) -> bool:
    """Whether the server at `url` answers /readyz with a 200."""
    try:
        return requests.get(f"{url}/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


class Served:
    """`command` (which listens on `port`) in its own process group, its output in `log`;
    constructed once /readyz answers, else RuntimeError with the log's end."""

    def __init__(
        self, command: list[str], cwd: Path, env: dict[str, str], log: Path, port: int, timeout=120
    ) -> None:
        self.url, self.log = f"http://127.0.0.1:{port}", log
        with log.open("a") as out:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = time.monotonic()
        while not ready(self.url):
            if time.monotonic() - started > timeout or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{command[:3]} not ready: {log.read_text()[-3000:]}")
            time.sleep(0.5)
        self.ready_s = time.monotonic() - started

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after 30 s."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def serving(
    command: list[str], cwd: Path, env: dict[str, str], log: Path, port: int, timeout=120
) -> Iterator[Served]:
    """A `Served` for the `with` block, stopped after it."""
    served = Served(command, cwd, env, log, port, timeout)
    try:
        yield served
    finally:
        served.stop()
