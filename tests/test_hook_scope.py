"""The git hooks' scope (issue 31, item 8), through the hooks as `make setup` installs them: the
secret scanner reads every text file (a key in a CSV fixture, a token in a JSONL file, a secret
in reports/ are refused; data and files of hashes are scanned for token formats only), and the
whitespace fixers leave data-like files anywhere byte-for-byte as they came."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import bake, run

pytestmark = pytest.mark.slow
# Built here, not written whole: nothing in this repository looks like a live credential.
AWS_KEY = "AKIA" + "Z7Q3XK2M4N8P5R6T"
GITHUB_TOKEN = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
SECRETS = {
    "tests/fixtures/creds.csv": f"user,aws_access_key_id\nci,{AWS_KEY}\n",
    "logs/calls.jsonl": f'{{"call": 1, "auth": "{GITHUB_TOKEN}"}}\n',
    "reports/notes.md": f"# Notes\n\nThe deploy key is `{AWS_KEY}`.\n",
    "data/raw/users.csv": f"name,token\nbot,{GITHUB_TOKEN}\n",
}
# Data-like files outside data/: spaces at line ends, CRLF, no final newline, all meaningful.
AS_THEY_CAME = {
    "tests/fixtures/table.psv": b"a|b \n1|2  \n3|",
    "tests/fixtures/rows.ndjson": b'{"a": "x  "}  \n{"a": 1}',
    "docs/sample.txt": b"measured by hand   \r\nsecond line  ",
    "tests/fixtures/expected.json": b'{"a": 1}   ',
}


def git(project: Path, *args: str, check: bool = True):
    return run(["git", *args], project, check=check, timeout=900)


@pytest.fixture(scope="module")
def project(tmp_path_factory, project_env) -> Path:
    """A project with its hooks installed (`make setup` does `pre-commit install`) and its
    first commit made through them."""
    project = bake(tmp_path_factory.mktemp("hook-scope"))
    for key, value in (("user.email", "t@example.com"), ("user.name", "T")):
        git(project, "config", key, value)
    (project / ".venv").symlink_to(project_env)
    run([str(project_env / "bin" / "pre-commit"), "install"], project)
    git(project, "add", "-A")
    committed = git(project, "commit", "-q", "-m", "init", check=False)
    assert committed.returncode == 0, committed.stdout[-3000:] + committed.stderr[-3000:]
    return project


def write(project: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize("name", SECRETS)
def test_a_secret_in_any_text_file_is_refused(project, name):
    write(project, {name: SECRETS[name]})
    git(project, "add", "-f", name)
    try:
        refused = git(project, "commit", "-m", "a secret", check=False)
        output = refused.stdout + refused.stderr
        assert refused.returncode != 0, f"{name} was committed with a secret in it"
        assert name in output, output[-3000:]
    finally:
        git(project, "reset", "-q", "--hard", "HEAD")
        git(project, "clean", "-q", "-fdx", "--", *{n.split("/")[0] for n in SECRETS})


def test_data_like_files_anywhere_are_committed_as_they_came(project):
    write(project, AS_THEY_CAME)
    git(project, "add", *AS_THEY_CAME)
    committed = git(project, "commit", "-m", "fixtures", check=False)
    assert committed.returncode == 0, committed.stdout[-3000:] + committed.stderr[-3000:]
    for name, content in AS_THEY_CAME.items():
        assert (project / name).read_bytes() == content, name
        shown = run(["git", "show", f"HEAD:{name}"], project).stdout.encode()
        assert shown == content.replace(b"\r\n", b"\n") or shown == content, name
