"""The service's hooks (serving/hooks.py): named in params `serve`, functions of the project's
own package only; a failing one is one line (HookError)."""

from __future__ import annotations

import sys

import pytest

from actions_mlops.core.config import ServeParams
from actions_mlops.core.typed import ConfigError
from actions_mlops.serving.hooks import HookError, Hooks, records_of, run
from conftest import PACKAGE

HOOKS = """
def preprocess(records):
    return [{**record, "seen": True} for record in records]

def postprocess(response):
    raise ValueError("no answer today\\nsecond line")

NOT_A_FUNCTION = 3
"""


@pytest.fixture
def hooks_module(workdir, monkeypatch):
    monkeypatch.delitem(sys.modules, PACKAGE, raising=False)  # imported again from workdir
    (workdir / "src" / PACKAGE / "hooks_for_test.py").write_text(HOOKS)
    return f"{PACKAGE}.hooks_for_test"


def test_hooks_load_from_the_projects_package_and_run(hooks_module):
    serve = ServeParams(
        preprocess=f"{hooks_module}:preprocess", postprocess=f"{hooks_module}:postprocess"
    )
    hooks = Hooks.load(serve, PACKAGE)
    assert hooks.describe() == (
        f"preprocess {hooks_module}:preprocess, postprocess {hooks_module}:postprocess"
    )
    assert hooks.preprocess is not None and hooks.postprocess is not None
    assert run("preprocess", hooks.preprocess, [{"a": 1}], records_of) == [{"a": 1, "seen": True}]
    with pytest.raises(HookError) as failed:
        run("postprocess", hooks.postprocess, {}, dict)
    assert str(failed.value) == "serve.postprocess postprocess failed: ValueError: no answer today"
    with pytest.raises(HookError, match="returned dict, not a non-empty list of records"):
        run("preprocess", lambda records: {}, [{"a": 1}], records_of)
    assert Hooks.load(ServeParams(), PACKAGE).describe() == "none"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("os:system", "a function of this project's package"),
        (f"{PACKAGE}_other.x:f", "a function of this project's package"),
        (f"{PACKAGE}.absent:f", "an importable function (ModuleNotFoundError"),
        (f"{PACKAGE}.hooks_for_test:absent", "an importable function (AttributeError"),
        (f"{PACKAGE}.hooks_for_test:NOT_A_FUNCTION", "a function"),
    ],
)
def test_a_hook_outside_the_package_or_missing_is_one_line(hooks_module, path, allowed):
    with pytest.raises(ConfigError) as refused:
        Hooks.load(ServeParams(postprocess=path), PACKAGE)
    message = str(refused.value)
    assert message.startswith(f"params.yaml: serve.postprocess: {path} — {allowed}")
    assert "\n" not in message
