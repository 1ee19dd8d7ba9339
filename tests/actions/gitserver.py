"""A git origin over smart HTTP on 127.0.0.1 that refuses what github.com refuses.

`git http-backend` serves the bare repositories under `root`, behind two of GitHub's rules:
- every request needs HTTP basic credentials with a known token as password (the username is
  ignored, as GitHub's `x-access-token`); without them 401 and `WWW-Authenticate`, so a client
  that does not find the job's credentials fails as it does on GitHub (public repositories'
  reads are open on GitHub: `public=True` lets reads through unauthenticated);
- a push that creates or changes a file under `.github/workflows/` is refused, with GitHub's own
  message, unless its token has the `workflows` permission (GITHUB_TOKEN never has it).

`tokens` maps each token to its permissions, e.g. {"ghs_x": {"contents"}, "github_pat_y":
{"contents", "workflows"}}; a token without `contents` may only read.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PRE_RECEIVE = """#!/bin/sh
# GitHub's rule: workflow files change only with a token that has the Workflows permission.
zero=0000000000000000000000000000000000000000
while read -r old new ref; do
  [ "$new" = "$zero" ] && continue
  if [ "$old" = "$zero" ]; then
    range="$new --not --all"
  else
    range="$old..$new"
  fi
  files="$(git log --format= --name-only $range -- .github/workflows/ | sort -u)"
  if [ -n "$files" ] && [ "$STANDIN_WORKFLOWS" != true ]; then
    for file in $files; do
      printf 'refusing to allow a GitHub App to create or update workflow `%s` %s\n' \\
        "$file" 'without `workflows` permission'
    done
    exit 1
  fi
done
"""


def bare(root: Path, name: str) -> Path:
    """A bare repository `name`.git under root with GitHub's pre-receive rule."""
    path = root / f"{name}.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    hook = path / "hooks" / "pre-receive"
    hook.write_text(PRE_RECEIVE)
    hook.chmod(0o755)
    return path


def handler(root: Path, tokens: dict[str, set[str]], public: bool, log: list[dict]):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def token(self) -> str | None:
            scheme, _, value = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "basic":
                return None
            _, _, password = base64.b64decode(value.strip()).decode().partition(":")
            return password if password in tokens else None

        def body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def serve(self, method: str) -> None:
            path, _, query = self.path.partition("?")
            push = "git-receive-pack" in path or "service=git-receive-pack" in query
            token = self.token()
            permissions = tokens.get(token or "", set())
            log.append({"method": method, "path": path, "push": push, "token": token})
            body = self.body() if method == "POST" else b""
            if token is None and (push or not public):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if push and "contents" not in permissions:
                self.send_error(403, "Permission to push denied (contents: read)")
                return
            env = {
                "PATH": os.environ["PATH"],
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "REQUEST_METHOD": method,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": "x-access-token",
                "REMOTE_ADDR": "127.0.0.1",
                "STANDIN_WORKFLOWS": "true" if "workflows" in permissions else "false",
            }
            result = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
            )
            head, _, payload = result.stdout.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode().split("\r\n"):
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.split()[0])
                elif key:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self.serve("GET")

        def do_POST(self) -> None:
            self.serve("POST")

    return Handler


@contextmanager
def serving(
    root: Path, tokens: dict[str, set[str]], public: bool = False
) -> Iterator[tuple[str, list[dict]]]:
    """(base URL, request log) of a server for the bare repositories under root."""
    log: list[dict] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(root, tokens, public, log))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()


def header(token: str) -> str:
    """The Authorization header actions/checkout sends for `token`."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return f"AUTHORIZATION: basic {basic}"


def persist_credentials(workspace: Path, url: str, token: str, temp: Path) -> Path:
    """What actions/checkout (v6+) leaves for `persist-credentials: true`: the token as an
    `http.<url>/.extraheader` in a config file of its own under RUNNER_TEMP, which the
    repository's config includes through `includeIf.gitdir:` (git reads it; dulwich does not)."""
    config = temp.resolve() / f"git-credentials-{abs(hash(str(workspace)))}.config"
    value = header(token)
    subprocess.run(["git", "config", "--file", str(config), f"http.{url}/.extraheader", value],
                   check=True)  # fmt: skip
    gitdir = (workspace / ".git").resolve()
    subprocess.run(["git", "config", "--local", f"includeIf.gitdir:{gitdir}.path", str(config)],
                   cwd=workspace, check=True)  # fmt: skip
    return config
