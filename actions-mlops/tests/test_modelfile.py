"""The model file is checked before anything in it is built: a corpus of crafted .skops files,
each refused with one line and no side effect, and files whose hash is not the registered one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from actions_mlops.core.config import MODEL_FILE, ModelParams, own_package
from actions_mlops.core.modelfile import (
    ModelFileError,
    check_types,
    file_hash,
    load_model,
    own_types,
    recorded_hash,
    save_model,
    verify_hash,
)
from actions_mlops.release.champion import Champion, fetch_model
from actions_mlops.training.train import build_model
from conftest import PACKAGE

CLASSIFIERS = ["RandomForestClassifier", "ExtraTreesClassifier", "GradientBoostingClassifier"]
REGRESSORS = ["RandomForestRegressor", "ExtraTreesRegressor", "GradientBoostingRegressor"]
ESTIMATORS = {
    "classification": [f"sklearn.ensemble.{name}" for name in CLASSIFIERS]
    + [
        "sklearn.ensemble.HistGradientBoostingClassifier",
        "sklearn.linear_model.LogisticRegression",
        "sklearn.linear_model.RidgeClassifier",
        "sklearn.tree.DecisionTreeClassifier",
        "sklearn.dummy.DummyClassifier",
    ],
    "regression": [f"sklearn.ensemble.{name}" for name in REGRESSORS]
    + [
        "sklearn.ensemble.HistGradientBoostingRegressor",
        "sklearn.linear_model.LinearRegression",
        "sklearn.linear_model.Ridge",
        "sklearn.tree.DecisionTreeRegressor",
        "sklearn.dummy.DummyRegressor",
    ],
}


def node(module: str, name: str, loader: str, **fields: Any) -> dict[str, Any]:
    """One node of a skops schema."""
    return {"__class__": name, "__module__": module, "__loader__": loader, **fields}


def text(value: str) -> dict[str, Any]:
    return node("builtins", "str", "JsonNode", content=json.dumps(value), is_json=True)


def items(*values: dict[str, Any]) -> dict[str, Any]:
    return node("builtins", "tuple", "TupleNode", content=list(values))


def call(module: str, function: str, *args: dict[str, Any]) -> dict[str, Any]:
    """A node whose loading calls module.function(*args)."""
    return node(module, function, "ConstructorFromReduceNode", content=items(*args))


def each(function: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A node whose loading calls `function` on each of `values`: list(map(function, values))."""
    return call("builtins", "list", call("builtins", "map", function, values))


def write_skops(path: Path, schema: dict[str, Any]) -> Path:
    """A .skops archive holding only `schema`."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps({**schema, "protocol": 2}))
    return path


def payloads(marker: Path) -> dict[str, dict[str, Any]]:
    """Schemas that, once loaded without checks, write `marker` (by importing `payload_module`
    for __import__)."""
    code = f"open({str(marker)!r}, 'w').write('ran')"
    shell = f"touch '{marker}'"
    os_module = call("builtins", "__import__", text("os"))
    methodcaller = call("_operator", "methodcaller", text("system"), text(shell))
    return {
        "builtins.eval": call("builtins", "eval", text(code)),
        "builtins.exec": node(
            "builtins",
            "exec",
            "LossNode",
            __reduce__={"args": items(text(code))},
            content=node("builtins", "dict", "DictNode", content={}, key_types=items()),
        ),
        "builtins.__import__": call("builtins", "__import__", text("payload_module")),
        "builtins.getattr": each(
            call("builtins", "getattr", os_module, text("system")), items(text(shell))
        ),
        "_operator.methodcaller": each(
            methodcaller,
            items(os_module),
        ),
        "posix.system": call("posix" if os.name == "posix" else "nt", "system", text(shell)),
        "os.system": call("os", "system", text(shell)),
    }


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file a payload writes when it runs; a module that writes it when imported."""
    target = tmp_path / "marker"
    (tmp_path / "payload_module.py").write_text(f"open({str(target)!r}, 'w').write('ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return target


@pytest.mark.parametrize("payload", list(payloads(Path("marker"))))
def test_crafted_model_files_are_refused_without_running(payload, marker, tmp_path):
    path = write_skops(tmp_path / "model.skops", payloads(marker)[payload])
    with pytest.raises(ModelFileError) as refused:
        load_model(path)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: refusing to load type ")
    assert "TRUSTED_TYPES" in message
    assert not marker.exists()
    sys.modules.pop("payload_module", None)


@pytest.mark.parametrize(
    "content", [b"not a zip", b"PK\x05\x06" + bytes(18)], ids=["not-a-zip", "empty-zip"]
)
def test_damaged_files_are_refused_in_one_line(content, tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=r"not a readable skops file") as refused:
        load_model(path)
    assert "\n" not in str(refused.value)


def few_trees(estimator: str) -> dict[str, int]:
    """Small ensembles: the test is about the saved types, not the fit."""
    if "HistGradientBoosting" in estimator:
        return {"max_iter": 5}
    return {"n_estimators": 5} if estimator.startswith("sklearn.ensemble.") else {}


@pytest.mark.parametrize(
    ("task", "estimator"), [(task, name) for task, names in ESTIMATORS.items() for name in names]
)
def test_the_supported_estimators_save_and_load(task, estimator, messy, tmp_path):
    frame, contract = messy(task, rows=200)
    model = build_model(contract, ModelParams(estimator=estimator, params=few_trees(estimator)))
    model.fit(frame[contract.features], frame[contract.target])
    save_model(model, tmp_path / "model.skops")
    loaded = load_model(tmp_path / "model.skops")
    features = frame[contract.features]
    assert (loaded.predict(features) == model.predict(features)).all()


@pytest.mark.parametrize(
    ("task", "kind"), [("classification", "Classifier"), ("regression", "Regressor")]
)
def test_an_estimator_with_other_types_is_refused_when_saved(task, kind, messy, tmp_path):
    """The refusal comes at `make train` and names the type to review, not at serving time."""
    frame, contract = messy(task, rows=200)
    params = ModelParams(
        estimator=f"sklearn.neighbors.KNeighbors{kind}", params={"algorithm": "kd_tree"}
    )
    model = build_model(contract, params).fit(frame[contract.features], frame[contract.target])
    with pytest.raises(ModelFileError, match=r"sklearn\.neighbors\._kd_tree\.KDTree") as refused:
        save_model(model, tmp_path / "model.skops")
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "model.skops").exists()


def test_the_tag_line_gives_sha256_when_recorded_else_md5():
    md5, sha = "0" * 32, "f" * 64
    line = f"model: {MODEL_FILE.as_posix()} md5:{md5}"
    md5_only, both = recorded_hash(f"v\n\n{line}\n"), recorded_hash(f"v\n\n{line} sha256:{sha}\n")
    assert md5_only is not None and md5_only.digest == md5
    assert both is not None and (both.algorithm, both.digest) == ("sha256", sha)
    assert recorded_hash("v\n\ndata: data/raw/x.csv md5:" + md5) is None
    # A second `model:` line (forged through a value with a newline) leaves no hash to trust.
    forged = f"{line} sha256:{'0' * 64}"
    assert recorded_hash(f"v\n\ndata: x\n{forged}\n{line} sha256:{sha}\n") is None
    assert recorded_hash(f"v\n\nmodel: other/{MODEL_FILE.as_posix()} md5:{md5}\n") is None


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_a_swapped_file_is_refused_against_the_registered_hash(algorithm, tmp_path):
    registered, swapped = tmp_path / "registered.skops", tmp_path / "swapped.skops"
    save_model(build_model_for_hash(), registered)
    swapped.write_bytes(registered.read_bytes() + b"\0")
    recorded = f"{algorithm}:{file_hash(registered, algorithm)}"
    message = f"m v0.1.0\n\nmodel: {MODEL_FILE.as_posix()} {recorded}\n"
    assert verify_hash(registered, message, "tag m@v0.1.0").algorithm == algorithm
    with pytest.raises(ModelFileError, match=rf"{algorithm} .* registered in tag m@v0.1.0"):
        verify_hash(swapped, message, "tag m@v0.1.0")
    with pytest.raises(ModelFileError, match="records no hash"):
        verify_hash(registered, "m v0.1.0\n", "tag m@v0.1.0")


def build_model_for_hash():
    """A small fitted model (any will do: only its bytes matter)."""
    from sklearn.dummy import DummyClassifier

    return DummyClassifier().fit([[0.0], [1.0]], [0, 1])


def git(folder: Path, *args: str) -> str:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    result = subprocess.run(
        ["git", *identity, *args], cwd=folder, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_the_champion_model_is_fetched_only_with_its_registered_hash(tmp_path, monkeypatch):
    """The champion's file comes from DVC at its commit; it reaches the gate only when its hash
    is the one its tag records (a swapped file: refused, nothing left at the destination)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    git(tmp_path, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], check=True)
    save_model(build_model_for_hash(), MODEL_FILE)
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", MODEL_FILE.as_posix()], check=True)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "model")
    commit, destination = git(tmp_path, "rev-parse", "HEAD"), tmp_path / "work" / "champion.skops"
    digest = file_hash(MODEL_FILE)
    for version, recorded in [("v0.1.0", digest[::-1]), ("v0.2.0", digest)]:
        message = f"m {version}\n\nmodel: {MODEL_FILE.as_posix()} md5:0 sha256:{recorded}\n"
        git(tmp_path, "tag", "-a", f"m@{version}", "-m", message, commit)
    with pytest.raises(ModelFileError, match=r"registered in tag m@v0\.1\.0; refusing it$"):
        fetch_model(Champion("m", "v0.1.0", commit), destination)
    assert list(destination.parent.iterdir()) == []
    assert fetch_model(Champion("m", "v0.2.0", commit), destination) == ("DVC at m@v0.2.0", "")
    assert file_hash(destination) == digest


def test_the_cli_says_a_refused_model_file_in_one_line(monkeypatch, capsys):
    """A step that meets a model file it must not load ends with one line and exit 1."""
    import types

    from actions_mlops import cli
    from actions_mlops.core.modelfile import ModelFileError

    def main() -> int:
        raise ModelFileError("models/model.skops: refusing to load type builtins.eval")

    monkeypatch.setattr(cli.importlib, "import_module", lambda *_: types.SimpleNamespace(main=main))
    assert cli.main(["evaluate"]) == 1
    err = capsys.readouterr().err
    assert err == "evaluate: refused: models/model.skops: refusing to load type builtins.eval\n"


def test_only_the_types_the_projects_package_defines_are_trusted(workdir, monkeypatch):
    """A class or function defined in a module of src/<package>/ is trusted; a name that module
    imports (Popen), a module named like the package, or another package's types are not."""
    monkeypatch.delitem(sys.modules, PACKAGE, raising=False)  # imported again from workdir
    (workdir / "src" / PACKAGE / "owned.py").write_text(
        "from subprocess import Popen\n\nclass Mine:\n    pass\n\ndef helper(x):\n    return x\n"
    )
    own, imported = f"{PACKAGE}.owned.Mine", f"{PACKAGE}.owned.Popen"
    reported = [own, f"{PACKAGE}.owned.helper", imported, "subprocess.Popen"]
    reported += [f"{PACKAGE}_other.owned.Mine", f"{PACKAGE}.missing.Thing"]
    assert own_package() == PACKAGE
    assert own_types(reported, PACKAGE) == {own, f"{PACKAGE}.owned.helper"}
    assert own_types(reported, None) == set()
    with pytest.raises(ModelFileError, match=f"refusing to load type {imported}"):
        check_types([own, imported], Path("model.skops"), PACKAGE)
    check_types([own], Path("model.skops"), PACKAGE)
