"""The registry's rules: version bumps, refusals, the tag message, in a scratch git repository."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from {{ cookiecutter.package }}.config import (
    METRICS_FILE,
    MODEL_FILE,
)
from {{ cookiecutter.package }}.registry import (
    GATE_FILE,
    RegistryError,
    bumped,
    incompatible,
    read_gate,
    register,
    tag_message,
)

METRICS = {
    "primary": "rmse",
    "test_rows": 10,
    "metrics": {"rmse": {"value": 1.5, "ci_low": 1.0, "ci_high": 2.0}},
}


def test_bumps_follow_semver():
    assert bumped("v0.1.0", "patch") == "v0.1.1"
    assert bumped("v0.1.3", "minor") == "v0.2.0"
    assert bumped("v1.4.2", "major") == "v2.0.0"


def test_contract_changes_that_break_clients_are_incompatible(contract):
    assert incompatible(contract, contract) == []
    first = contract.features[0]
    fewer = dataclasses.replace(
        contract, columns={n: c for n, c in contract.columns.items() if n != first}
    )
    assert incompatible(contract, fewer) == [f"feature {first!r} removed"]
    assert incompatible(fewer, contract) == [f"feature {first!r} added"]
    column = contract.columns[first]
    dtype = "float" if column.dtype == "str" else "str"
    retyped = {**contract.columns, first: dataclasses.replace(column, dtype=dtype)}
    changed = incompatible(contract, dataclasses.replace(contract, columns=retyped))
    assert changed == [f"feature {first!r} is now {dtype}, was {column.dtype}"]


@pytest.mark.parametrize("gate", [None, {"verdict": "NOT_BLESSED"}, {"blessed": True}])
def test_registration_needs_a_blessed_gate(workdir, gate):
    if gate is not None:
        GATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        GATE_FILE.write_text(json.dumps(gate))
    with pytest.raises(RegistryError, match="gate"):
        read_gate()


def test_a_dirty_tree_is_refused(workdir):
    for command in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "x"],
    ):
        subprocess.run(command, check=True)
    GATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    GATE_FILE.write_text(json.dumps({"verdict": "BLESSED"}))
    (workdir / "params.yaml").write_text("# changed\n" + (workdir / "params.yaml").read_text())
    with pytest.raises(RegistryError, match="uncommitted changes"):
        register()


def test_the_tag_message_is_a_registry_entry(workdir):
    data = Path("data/raw/dataset.parquet")
    for path in (data, MODEL_FILE, METRICS_FILE):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    gate = {"verdict": "BLESSED"}
    message = tag_message("m", "v1.0.0", "first version", "abc", gate, METRICS, data)
    assert message.startswith("m v1.0.0: first version\n")
    for line in ("commit: abc", "gate: BLESSED", "rmse: 1.5000 [1.0000, 2.0000]"):
        assert line in message
    assert "data: data/raw/dataset.parquet md5:9dd4e461268c8034f5c8564e155c67a6" in message
    assert "params: params.yaml sha256:" in message
