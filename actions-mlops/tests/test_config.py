"""Settings files are checked up front: each broken file below gets one line naming the file,
the key, the value and what is allowed (`make check-config`, exit 2), never a traceback."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions_mlops import cli
from actions_mlops.core.config import load_params
from actions_mlops.core.typed import (
    ConfigError,
    Positive,
    Settings,
    build,
)
from actions_mlops.training.metrics import METRICS
from conftest import ROOT

FILES = ("params.yaml", "contract.yaml", "bentofile.yaml")
CONTRACT = yaml.safe_load((ROOT / "contract.yaml").read_text(encoding="utf-8"))
FEATURE = next(n for n, c in CONTRACT["columns"].items() if c.get("role", "feature") == "feature")
TARGET = next(n for n, c in CONTRACT["columns"].items() if c.get("role") == "target")
# The task params.yaml names now (`make adopt` may have changed the baked one): its estimator,
# an estimator of the other task, out-of-range gate bounds, a slice floor, a gated metric.
BY_TASK = {
    "classification": (
        "sklearn.linear_model.LogisticRegression",
        ("sklearn.linear_model.LinearRegression", "classification", "classifier"),
        ("gate.metrics.roc_auc.floor", -5, "roc_auc is in [0, 1]"),
        ("gate.metrics.roc_auc.floor", 1.5, "roc_auc is in [0, 1]"),
        ("accuracy", 1.5, "accuracy is in [0, 1]"),
        "roc_auc",
    ),
    "regression": (
        "sklearn.linear_model.Ridge",
        ("sklearn.linear_model.LogisticRegression", "regression", "regressor"),
        ("gate.metrics.rmse.ceiling", -5, "rmse is >= 0"),
        ("gate.metrics.r2.floor", 1.5, "r2 is <= 1"),
        ("r2", 1.5, "r2 is <= 1"),
        "r2",
    ),
}
TASK = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["task"]
ESTIMATOR, OTHER_TASK, LOW_BOUND, HIGH_BOUND, SLICE_FLOOR, GATED = BY_TASK[TASK]
RANGE_WORDS = "so this floor always or never passes"


def setting(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit setting the dotted `path` (created if missing) to `value`."""

    def edit(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            raw = raw.setdefault(part, {})
        raw[last] = value

    return edit


def removing(path: str) -> Callable[[dict[str, Any]], None]:
    """An edit deleting the dotted `path`."""

    def edit(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            raw = raw[part]
        del raw[last]

    return edit


def renaming(path: str, new: str) -> Callable[[dict[str, Any]], None]:
    """An edit renaming the dotted `path`'s last key to `new` (a misspelling)."""

    def edit(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            raw = raw[part]
        raw[new] = raw.pop(last)

    return edit


P, C = "params.yaml", "contract.yaml"
COLUMN = f"columns.{FEATURE}"
# (file, edit of its YAML mapping or the file's whole new text, the expected line or its start)
CASES: dict[str, tuple[str, Callable[[dict[str, Any]], None] | str, str]] = {
    "misspelt top-level key": (P, renaming("evaluate", "evalute"), "params.yaml: evalute: {"),
    "missing section": (
        P,
        removing("split"),
        "params.yaml: split: missing — required: a mapping with keys test_size, seed, stratify",
    ),
    "unknown task": (
        P,
        setting("task", "clasification"),
        "params.yaml: task: clasification — one of classification, regression",
    ),
    "test_size 0": (
        P,
        setting("split.test_size", 0),
        "params.yaml: split.test_size: 0 — a number in (0, 1)",
    ),
    "test_size text": (
        P,
        setting("split.test_size", "a quarter"),
        "params.yaml: split.test_size: a quarter — a number",
    ),
    "one-hot cap of 1": (
        P,
        setting("model.one_hot.max_categories", 1),
        "params.yaml: model.one_hot.max_categories: 1 — a whole number >= 2",
    ),
    "one-hot frequency as a fraction": (
        P,
        setting("model.one_hot.min_frequency", 0.01),
        "params.yaml: model.one_hot.min_frequency: 0.01 — a whole number or null",
    ),
    "negative seed": (
        P,
        setting("split.seed", -1),
        "params.yaml: split.seed: -1 — a whole number >= 0",
    ),
    "fractional seed": (
        P,
        setting("split.seed", 1.5),
        "params.yaml: split.seed: 1.5 — a whole number",
    ),
    "stratify text": (
        P,
        setting("split.stratify", "maybe"),
        "params.yaml: split.stratify: maybe — true or false",
    ),
    "raw data xlsx": (
        P,
        setting("data.raw", "data/raw/dataset.xlsx"),
        "params.yaml: data.raw: data/raw/dataset.xlsx — a path ending in .csv or .parquet",
    ),
    "raw data path with a newline": (  # it would forge the tag's `model:` line (issue 31)
        P,
        setting("data.raw", "data/raw/x\nmodel: models/model.skops sha256:00.csv"),
        "params.yaml: data.raw: 'data/raw/x\\nmodel: models/model.skops sha256:00.csv' — "
        "a path without newlines or other control characters",
    ),
    "log folder with a control character": (
        P,
        setting("monitor.log_dir", "logs/\x1b[2Jpredictions"),
        "params.yaml: monitor.log_dir: 'logs/\\x1b[2Jpredictions' — a path without newlines",
    ),
    "estimator typo": (
        P,
        setting("model.estimator", ESTIMATOR[:-1]),  # its last letter missing
        f"params.yaml: model.estimator: {ESTIMATOR[:-1]} — an importable class",
    ),
    "estimator not a class": (
        P,
        setting("model.estimator", "os.system"),
        "params.yaml: model.estimator: os.system — a class with fit()",
    ),
    "estimator argument typo": (
        P,
        setting("model.params", {"n_estimatorz": 200}),  # an argument of no estimator
        "params.yaml: model.params.n_estimatorz: 200 — not an argument of",
    ),
    "estimator argument out of range": (
        P,
        setting("model.params.max_iter", -1),  # the default of either task takes max_iter
        "params.yaml: model.params.max_iter: -1 — The 'max_iter' parameter of",
    ),
    "estimator of the other task": (
        P,
        setting("model", {"estimator": OTHER_TASK[0], "params": {}}),
        f"params.yaml: model.estimator: {OTHER_TASK[0]} — an estimator for task {OTHER_TASK[1]} "
        f"(a {OTHER_TASK[2]})",
    ),
    "unknown metric": (
        P,
        setting("evaluate.metrics", ["auc"]),
        "params.yaml: evaluate.metrics[0]: auc — one of ",
    ),
    "metrics not a list": (
        P,
        setting("evaluate.metrics", GATED),
        f"params.yaml: evaluate.metrics: {GATED} — a list of text",
    ),
    "primary not evaluated": (
        P,
        setting("evaluate.primary", "mse"),
        "params.yaml: evaluate.primary: mse — one of evaluate.metrics (",
    ),
    "slice column not in the contract": (
        P,
        setting("evaluate.slices", ["no_such_column"]),
        "params.yaml: evaluate.slices[0]: no_such_column — a column of contract.yaml (",
    ),
    "bootstrap confidence 2": (
        P,
        setting("evaluate.bootstrap.confidence", 2.0),
        "params.yaml: evaluate.bootstrap.confidence: 2.0 — a number in (0, 1)",
    ),
    "bootstrap resamples 0": (
        P,
        setting("evaluate.bootstrap.resamples", 0),
        "params.yaml: evaluate.bootstrap.resamples: 0 — a whole number >= 1",
    ),
    "gate confidence 2": (
        P,
        setting("gate.confidence", 2.0),
        "params.yaml: gate.confidence: 2.0 — a number in (0, 1)",
    ),
    "gate confidence 1": (
        P,
        setting("gate.confidence", 1),
        "params.yaml: gate.confidence: 1 — a number in (0, 1)",
    ),
    "gate resamples 0": (
        P,
        setting("gate.resamples", 0),
        "params.yaml: gate.resamples: 0 — a whole number >= 1",
    ),
    "gate bound below the metric's range": (
        P,
        setting(LOW_BOUND[0], LOW_BOUND[1]),
        f"params.yaml: {LOW_BOUND[0]}: {LOW_BOUND[1]} — {LOW_BOUND[2]}",
    ),
    "gate bound above the metric's range": (
        P,
        setting(HIGH_BOUND[0], HIGH_BOUND[1]),
        f"params.yaml: {HIGH_BOUND[0]}: {HIGH_BOUND[1]} — {HIGH_BOUND[2]}, {RANGE_WORDS}",
    ),
    "gate compare unknown": (
        P,
        setting(f"gate.metrics.{GATED}.compare", "better"),
        f"params.yaml: gate.metrics.{GATED}.compare: better — "
        "one of non_inferior, superior or null",
    ),
    "gate margin negative": (
        P,
        setting(f"gate.metrics.{GATED}.margin", -0.1),
        f"params.yaml: gate.metrics.{GATED}.margin: -0.1 — a number >= 0",
    ),
    "gate floor text": (
        P,
        setting(f"gate.metrics.{GATED}.floor", "high"),
        f"params.yaml: gate.metrics.{GATED}.floor: high — a number or null",
    ),
    "gate metric not evaluated": (
        P,
        setting("gate.metrics.mse", {"ceiling": 1.0}),
        "params.yaml: gate.metrics: mse — a metric evaluate.metrics computes (",
    ),
    "gate floor above ceiling": (
        P,
        setting(f"gate.metrics.{GATED}", {"floor": 0.9, "ceiling": 0.8}),
        f"params.yaml: gate.metrics.{GATED}: floor 0.9, ceiling 0.8 — floor <= ceiling",
    ),
    "gate unknown rule key": (
        P,
        setting(f"gate.metrics.{GATED}.flor", 0.5),
        f"params.yaml: gate.metrics.{GATED}.flor: 0.5 — unknown key; did you mean floor?",
    ),
    "slice floor out of range": (
        P,
        setting(f"gate.slices.floors.{SLICE_FLOOR[0]}", SLICE_FLOOR[1]),
        f"params.yaml: gate.slices.floors.{SLICE_FLOOR[0]}: {SLICE_FLOOR[1]} — {SLICE_FLOOR[2]}",
    ),
    "slice min_rows 0": (
        P,
        setting("gate.slices.min_rows", 0),
        "params.yaml: gate.slices.min_rows: 0 — a whole number >= 1",
    ),
    "registry model missing": (
        P,
        removing("registry.model"),
        "params.yaml: registry.model: missing — required: text",
    ),
    "serve max_records 0": (
        P,
        setting("serve.max_records", 0),
        "params.yaml: serve.max_records: 0 — a whole number >= 1",
    ),
    "serve key misspelt": (
        P,
        renaming("serve.max_records", "max_record"),
        "params.yaml: serve.max_record: 1000 — unknown key; did you mean max_records?",
    ),
    "drift alpha text": (
        P,
        setting("drift.alpha", "lots"),
        "params.yaml: drift.alpha: lots — a number",
    ),
    "drift key misspelt": (
        P,
        renaming("drift.warn", "warning"),
        "params.yaml: drift.warning: 0.1 — unknown key; did you mean warn?",
    ),
    "sweep grid path": (
        P,
        setting("sweep.grid", {"modle.params.n_estimators": [10]}),
        "params.yaml: sweep.grid.modle.params.n_estimators: [10] — a params.yaml key path",
    ),
    "monitor keep 0": (
        P,
        setting("monitor.keep", 0),
        "params.yaml: monitor.keep: 0 — a whole number >= 1",
    ),
    "params not YAML": (
        P,
        "task: [classification\nsplit: {}\n",
        "params.yaml: line 2, column 6: not valid YAML",
    ),
    "params a list": (
        P,
        "- task\n",
        "params.yaml: (top level): [task] — a mapping with keys task, data,",
    ),
    "contract not YAML": (
        C,
        "columns:\n  x: {dtype: float\n",
        "contract.yaml: line 3, column 1: not valid YAML",
    ),
    "contract unknown field": (
        C,
        setting(f"{COLUMN}.max_nul_fraction", 0),
        f"contract.yaml: {COLUMN}.max_nul_fraction: 0 — "
        "unknown key; did you mean max_null_fraction?",
    ),
    "contract unknown dtype": (
        C,
        setting(f"{COLUMN}.dtype", "text"),
        f"contract.yaml: {COLUMN}.dtype: text — one of int, float, str, bool",
    ),
    "contract unknown role": (
        C,
        setting(f"{COLUMN}.role", "label"),
        f"contract.yaml: {COLUMN}.role: label — one of feature, target, id, ignored",
    ),
    "contract range of one value": (
        C,
        setting(f"{COLUMN}.range", [0]),
        f"contract.yaml: {COLUMN}.range: [0] — a list of 2 values (a number or null each)",
    ),
    "contract range backwards": (
        C,
        setting(f"{COLUMN}.range", [5, 1]),
        f"contract.yaml: {COLUMN}.range: [5, 1] — [min, max] with min <= max",
    ),
    "contract null fraction text": (
        C,
        setting(f"{COLUMN}.max_null_fraction", "lots"),
        f"contract.yaml: {COLUMN}.max_null_fraction: lots — a number or null",
    ),
    "contract null fraction above 1": (
        C,
        setting(f"{COLUMN}.max_null_fraction", 1.5),
        f"contract.yaml: {COLUMN}.max_null_fraction: 1.5 — a number in [0, 1]",
    ),
    "contract unknown environment": (
        C,
        setting(f"{COLUMN}.environments", ["production"]),
        f"contract.yaml: {COLUMN}.environments[0]: production — one of training, serving",
    ),
    "contract unknown severity": (
        C,
        setting(f"{COLUMN}.severity", "fatal"),
        f"contract.yaml: {COLUMN}.severity: fatal — one of error, warn",
    ),
    "contract table fraction negative": (
        C,
        setting("table.max_duplicate_fraction", -0.1),
        "contract.yaml: table.max_duplicate_fraction: -0.1 — a number in [0, 1]",
    ),
    "contract table key misspelt": (
        C,
        setting("table.min_row", 3),
        "contract.yaml: table.min_row: 3 — unknown key; did you mean min_rows?",
    ),
    "contract extra_columns": (
        C,
        setting("table.extra_columns", "ignore"),
        "contract.yaml: table.extra_columns: ignore — one of fail, warn",
    ),
    "contract without target": (
        C,
        setting(f"columns.{TARGET}.role", "feature"),
        "contract.yaml: columns: targets [] — exactly one column needs role 'target'",
    ),
    "gate acknowledges a leak of no feature": (
        P,
        setting("gate.acknowledged_leaks", ["nope"]),
        "params.yaml: gate.acknowledged_leaks[0]: nope — a feature of contract.yaml (",
    ),
    "gate accept_drop as text": (
        P,
        setting("gate.accept_drop", "yes"),
        "params.yaml: gate.accept_drop: yes — a mapping with keys reason, champion, metrics or "
        "null",
    ),
    "gate accept_drop without a reason": (
        P,
        setting("gate.accept_drop", {"champion": "v0.1.0", "metrics": {GATED: 0.2}}),
        "params.yaml: gate.accept_drop.reason: missing — required: text",
    ),
    "gate accept_drop with a blank reason": (
        P,
        setting("gate.accept_drop", {"reason": " ", "champion": "v0.1.0", "metrics": {GATED: 0.2}}),
        "params.yaml: gate.accept_drop.reason: ' ' — why the drop is accepted, for the reviewers",
    ),
    "gate accept_drop of a metric not compared": (
        P,
        setting(
            "gate.accept_drop", {"reason": "r", "champion": "v0.1.0", "metrics": {"nope": 0.2}}
        ),
        "params.yaml: gate.accept_drop.metrics.nope: 0.2 — a metric gate.metrics compares with the",
    ),
    "gate accept_drop of nothing": (
        P,
        setting("gate.accept_drop", {"reason": "r", "champion": "v0.1.0", "metrics": {GATED: 0}}),
        f"params.yaml: gate.accept_drop.metrics.{GATED}: 0 — the largest accepted drop of {GATED}: "
        "a number > 0",
    ),
    "bentofile not YAML": (
        "bentofile.yaml",
        "service: [x\n",
        "bentofile.yaml: line 2, column 1: not valid YAML",
    ),
    "bentofile a list": (
        "bentofile.yaml",
        "- service\n",
        "bentofile.yaml: (top level): [service] — a mapping",
    ),
}


def _text_column(raw: dict[str, Any]) -> None:
    """A text column whose allowed values YAML read as booleans (unquoted yes/no)."""
    setting(f"{COLUMN}.dtype", "str")(raw)
    setting(f"{COLUMN}.range", None)(raw)
    setting(f"{COLUMN}.allowed_values", [True, False])(raw)


CASES["contract yes unquoted"] = (
    C,
    _text_column,
    f"contract.yaml: {COLUMN}.allowed_values: [true, false] — text values: quote yes/no/true/false",
)


def check(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """The `check` step in the working directory: its exit code and stderr lines."""
    code = cli.main(["check"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project's settings files in a scratch folder, made the working directory."""
    for name in FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    raw = load_params(ROOT / "params.yaml").data.raw  # a table no stage writes must exist
    if (ROOT / raw).is_file():
        (tmp_path / raw).parent.mkdir(parents=True)
        shutil.copy(ROOT / raw, tmp_path / raw)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_project_settings_pass(settings, capsys):
    code, lines = check(capsys)
    assert (code, lines) == (0, [])


def test_the_corpus_is_large():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_broken_setting_is_one_line(case, settings, capsys):
    file, edit, expected = CASES[case]
    path = settings / file
    if isinstance(edit, str):
        path.write_text(edit, encoding="utf-8")
    else:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(raw)
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    code, lines = check(capsys)
    assert code == 2
    assert any(line.startswith(expected) for line in lines), lines


def test_a_pipeline_step_with_bad_settings_says_so_in_one_line(settings, capsys):
    raw = yaml.safe_load((settings / "params.yaml").read_text(encoding="utf-8"))
    raw["split"]["test_size"] = 1.5
    (settings / "params.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert cli.main(["split"]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"params.yaml: split.test_size: 1.5 — a number in \(0, 1\) \[line \d+\]\n", err
    )


def test_params_name_known_metrics(params):
    assert params.evaluate.metrics, "params.yaml evaluate.metrics is empty"
    assert set(params.evaluate.metrics) <= set(METRICS)
    assert params.evaluate.primary in params.evaluate.metrics


def test_load_params_raises_one_error_listing_every_problem(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text("task: classification\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_params(path)
    keys = [problem.key for problem in raised.value.problems]
    assert keys == ["data", "split", "model", "evaluate", "registry", "gate"]


def test_numbers_with_an_exponent_are_numbers(settings, capsys):
    text = (settings / "params.yaml").read_text(encoding="utf-8")
    (settings / "params.yaml").write_text(re.sub(r"margin: [\d.]+", "margin: 1e-3", text, count=1))
    assert check(capsys) == (0, [])
    assert 0.001 in [rule.margin for rule in load_params().gate.metrics.values()]


def test_a_new_field_is_checked_from_its_type_alone():
    class Limits(Settings):
        max_body_bytes: Positive = 1
        api_key_env: str | None = None

    _, problems = build(Limits, {"max_body_bytes": 0, "api_key_env": 3}, "params.yaml", "serve")
    assert [str(p) for p in problems] == [
        "params.yaml: serve.max_body_bytes: 0 — a whole number >= 1",
        "params.yaml: serve.api_key_env: 3 — text or null",
    ]


def test_the_code_reads_params_as_dvc_does(settings):
    """YAML 1.1 (PyYAML) and 1.2 (ruamel, DVC) differ: DVC's reading of each value is ours."""
    from dvc.utils.serialize import parse_yaml as dvc_parse

    from actions_mlops.core.typed import parse_yaml

    text = "a: yes\nb: 1e-3\nc: 0o17\nd: 017\ne: 1_000\nf: off\ng: 2026-01-02\n"
    assert parse_yaml(text, "x.yaml") == dvc_parse(text, "x.yaml")
    params = (settings / "params.yaml").read_text(encoding="utf-8")
    assert load_params().raw == dvc_parse(params, "params.yaml")


def test_editors_and_check_jsonschema_read_the_models_schema(settings):
    assert cli.main(["json-schema", "--out", ".schemas"]) == 0
    for name in ("params", "contract"):
        first = (settings / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema=.schemas/{name}.schema.json"

    def valid(name: str) -> bool:
        schema = f".schemas/{name}.schema.json"
        command = ["check-jsonschema", "--schemafile", schema, f"{name}.yaml"]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0

    assert valid("params") and valid("contract")
    raw = yaml.safe_load((settings / "params.yaml").read_text(encoding="utf-8"))
    for edit in (setting("split.test_size", 1.5), renaming("evaluate", "evalute")):
        broken = copy.deepcopy(raw)
        edit(broken)
        (settings / "params.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")
        assert not valid("params"), broken


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def build_features(contract, one_hot)\n    return None\n", "a module that parses ("),
        ("import no_such_module_here\n", "an importable function (ModuleNotFoundError: "),
        (
            "raise RuntimeError('half-edited')\n",
            "an importable function (RuntimeError: half-edited",
        ),
    ],
    ids=["syntax error", "missing import", "error at import"],
)
def test_a_broken_features_module_is_one_line(settings, capsys, monkeypatch, source, expected):
    (settings / "owner_features.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(settings))
    raw = yaml.safe_load((settings / "params.yaml").read_text(encoding="utf-8"))
    setting("model.features", "owner_features:build_features")(raw)
    (settings / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    code, lines = check(capsys)
    assert code == 2
    prefix = f"params.yaml: model.features: owner_features:build_features — {expected}"
    assert [line for line in lines if line.startswith(prefix)], lines
