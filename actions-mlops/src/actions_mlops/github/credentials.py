"""The DVC remote's credentials in CI, made right before a step reaches the remote (pull, gate,
register, retrain-branch, sweep-point), never once per job: GitHub's OIDC token lives about
5 minutes, less than a long `make repro`. Outside GitHub Actions nothing changes.

- s3 / azure: with AWS_ROLE_ARN (AZURE_CLIENT_ID) set and the job's `id-token: write`, a fresh
  OIDC token for sts.amazonaws.com (api://AzureADTokenExchange) goes to the file
  AWS_WEB_IDENTITY_TOKEN_FILE (AZURE_FEDERATED_TOKEN_FILE) names, which the cloud SDK exchanges.
- gs: a service account key in GCP_SERVICE_ACCOUNT_KEY becomes the file
  GOOGLE_APPLICATION_CREDENTIALS names.

The workflows pass only the variables of the project's own remote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from actions_mlops.core.errors import StepError

# role variable -> (OIDC audience, the variable naming the token's file)
OIDC = {
    "AWS_ROLE_ARN": ("sts.amazonaws.com", "AWS_WEB_IDENTITY_TOKEN_FILE"),
    "AZURE_CLIENT_ID": ("api://AzureADTokenExchange", "AZURE_FEDERATED_TOKEN_FILE"),
}


def private_file(path: Path, text: str) -> Path:
    """`text` in a file only its owner may read."""
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_text(text, encoding="utf-8")
    return path


def oidc_token(audience: str) -> str:
    """A fresh OIDC token of the job for `audience` (GitHub's token endpoint)."""
    url = f"{os.environ['ACTIONS_ID_TOKEN_REQUEST_URL']}&audience={audience}"
    token = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "")
    request = urllib.request.Request(url, headers={"Authorization": f"bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return str(json.load(answer)["value"])
    except urllib.error.HTTPError as error:
        error.close()
        raise StepError(f"no OIDC token from GitHub for {audience}: {error}") from None
    except (OSError, ValueError, KeyError) as error:
        raise StepError(f"no OIDC token from GitHub for {audience}: {error}") from error


def remote_environment() -> dict[str, str]:
    """This process's environment with the DVC remote's credentials made for this step."""
    env = dict(os.environ)
    temp = Path(env.get("RUNNER_TEMP") or "/tmp")
    for role, (audience, file_variable) in OIDC.items():
        if env.get(role) and env.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
            token = private_file(temp / "oidc-token", oidc_token(audience))
            env[file_variable] = str(token)
    key = env.get("GCP_SERVICE_ACCOUNT_KEY")
    if key:
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(private_file(temp / "gcp-key.json", key))
    return env


def with_credentials(command: list[str]) -> int:
    """Run `command` (no shell) with the remote's credentials in its environment."""
    command = command[1:] if command[:1] == ["--"] else command
    if not command:
        print("with-credentials: no command to run", file=sys.stderr)
        return 2
    try:
        env = remote_environment()
    except StepError as error:
        print(f"with-credentials: {error}", file=sys.stderr)
        return 1
    try:
        return subprocess.call(command, env=env)
    except FileNotFoundError:
        print(f"with-credentials: {command[0]}: not found", file=sys.stderr)
        return 127
