"""Settings mistakes the first round let through (issue 31, items 5 and 9), each one line:
a key given twice in YAML, an empty metrics list, a raw table no stage writes and that is not
there, a misspelt step in dvc.yaml, and bentofile.yaml (service, keys, types, the packages the
service imports), which `make check-config` and `make package` now check before BentoML sees it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bentoml._internal.bento.build_config import BentoBuildConfig, DockerOptions, PythonOptions

from actions_mlops import cli
from actions_mlops.core.config import load_params
from actions_mlops.core.typed import ConfigError, read_yaml
from actions_mlops.release import bentofile
from actions_mlops.release.package import build_options
from conftest import ROOT

FILES = ("params.yaml", "contract.yaml", "bentofile.yaml")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project's settings files (and its raw table, when it has one) in a scratch folder,
    made the working directory."""
    for name in FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    raw = load_params(ROOT / "params.yaml").data.raw
    if (ROOT / raw).is_file():
        (tmp_path / raw).parent.mkdir(parents=True)
        shutil.copy(ROOT / raw, tmp_path / raw)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """`actions-mlops check` here: its exit code and stderr lines (never a traceback)."""
    code = cli.main(["check"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()


def test_a_key_given_twice_is_one_line_naming_both_lines(settings, capsys):
    text = (settings / "params.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("task:")) + 1
    other = "regression" if "task: classification" in text else "classification"
    text += f"task: {other}\n"  # the last wins in YAML: the estimator would be blamed
    (settings / "params.yaml").write_text(text, encoding="utf-8")
    assert check(capsys) == (
        2,
        [
            f"params.yaml: task: given twice (lines {first} and {len(lines) + 1}) — one value "
            "per key (YAML would keep the last): remove one"
        ],
    )


def test_nested_and_listed_keys_given_twice_are_named_with_their_path(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  b: 1\n  b: 2\nl:\n  - {c: 1, c: 2}\nm: {<<: {d: 1}, d: 2}\n")
    with pytest.raises(ConfigError) as raised:
        read_yaml(path)
    assert [(p.key, p.value) for p in raised.value.problems] == [
        ("a.b", "given twice (lines 2 and 3)"),
        ("l[0].c", "given twice (lines 5 and 5)"),
    ]
    # A merge key's values may be overridden, `1` and "1" are two keys, aliases may loop.
    path.write_text('m: {<<: {d: 1}, d: 2}\n1: a\n"1": b\nr: &r [*r]\n')
    assert read_yaml(path)["m"] == {"d": 2}


def test_contract_and_bentofile_keys_given_twice_are_refused(settings, capsys):
    for name in ("contract.yaml", "bentofile.yaml"):
        text = (settings / name).read_text(encoding="utf-8")
        key = next(line.split(":")[0] for line in text.splitlines() if line[:1].isalpha())
        (settings / name).write_text(f"{text}{key}: null\n", encoding="utf-8")
    code, lines = check(capsys)
    assert code == 2
    assert [line.split(":")[0] for line in lines] == ["contract.yaml", "bentofile.yaml"], lines
    assert all("given twice" in line for line in lines), lines


def test_an_empty_metrics_list_is_one_line(settings, capsys):
    raw = yaml.safe_load((settings / "params.yaml").read_text(encoding="utf-8"))
    raw["evaluate"]["metrics"] = []
    (settings / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    code, lines = check(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("params.yaml: evaluate.metrics: [] — at least one metric, e.g. [")


def test_a_missing_raw_table_is_an_error_unless_a_stage_writes_it(settings, capsys):
    raw = yaml.safe_load((settings / "params.yaml").read_text(encoding="utf-8"))
    raw["data"] = {"raw": "data/raw/elsewhere.csv"}  # no source: the owner's own table
    (settings / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    code, lines = check(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(
        "params.yaml: data.raw: data/raw/elsewhere.csv: no such file — an existing table: no "
        "stage writes it (data.source is not set)"
    )
    raw["data"]["source"] = "sklearn:breast_cancer"  # the ingest stage writes it
    (settings / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    assert check(capsys) == (0, [])


def test_a_misspelt_step_is_one_line_naming_the_closest(capsys):
    assert cli.main(["valdate"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        "actions-mlops: unknown step 'valdate': did you mean validate? steps: ingest, "
    ), err
    # as dvc.yaml runs it, in its own process
    run = [sys.executable, "-m", "actions_mlops", "valdate"]
    result = subprocess.run(run, capture_output=True, text=True, check=False)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--hots", "x"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "actions-mlops serve: unrecognized arguments: --hots x; --help shows the usage\n"
    )


SERVICE_LINE = 'service: "actions_mlops.serving.service:ModelService"'
PACKAGES = "packages: [bentoml, numpy, pandas, pydantic, pyyaml, ruamel.yaml, scikit-learn, skops]"
# bentofile.yaml edits (old text -> new text) and the one line `check` prints for each.
BENTOFILE_CASES = {
    "service: a class the module lacks": (
        SERVICE_LINE,
        'service: "actions_mlops.serving.service:Model"',
        "bentofile.yaml: service: actions_mlops.serving.service:Model — a class of "
        "actions_mlops.serving.service (it defines no Model)",
    ),
    "service: no such module": (
        SERVICE_LINE,
        'service: "actions_mlops.serving.servic:ModelService"',
        "bentofile.yaml: service: actions_mlops.serving.servic:ModelService — an importable "
        "module:Class (no module actions_mlops.serving.servic)",
    ),
    "service: outside the package": (
        SERVICE_LINE,
        'service: "service:svc"',
        "bentofile.yaml: service: service:svc — a service of the actions_mlops package",
    ),
    "service: not module:Class": (
        SERVICE_LINE,
        "service: ModelService",
        "bentofile.yaml: service: ModelService — module:Class",
    ),
    "service: missing": (SERVICE_LINE, "", "bentofile.yaml: service: missing — required"),
    "a misspelt key": (
        "include:",
        "includes:",
        "bentofile.yaml: includes: [actions_mlops/__init__.py, actions_mlops/core/*.py, act ... "
        "— unknown key; did you mean include?",
    ),
    "a misspelt python key": (
        "lock_packages:",
        "lock_package:",
        "bentofile.yaml: python.lock_package: false — unknown key; did you mean lock_packages?",
    ),
    "packages: 5": (PACKAGES, "packages: 5", "bentofile.yaml: python.packages: 5 — a list of"),
    "packages: missing": (PACKAGES, "", "bentofile.yaml: python.packages: missing — required"),
    "packages without skops": (
        ", skops]",
        "]",
        "bentofile.yaml: python.packages: [bentoml, numpy, pandas, pydantic, pyyaml, ruamel.yaml, "
        " ... — every distribution the service imports; add skops",
    ),
    "a package that is not installed": (
        ", skops]",
        ", skopz]",
        "bentofile.yaml: python.packages: skopz — a distribution installed in this environment",
    ),
    "include leaves out a module the service imports": (
        '  - "actions_mlops/core/*.py"\n',
        "",
        "bentofile.yaml: include: [actions_mlops/__init__.py, actions_mlops/data/__init__. ... "
        "— patterns that take in every module the service imports (add actions_mlops/core/",
    ),
    "name set by make package": (
        "labels:",
        "name: mine\nlabels:",
        "bentofile.yaml: name: mine — set by make package (the registered model's name)",
    ),
    "a flag that is text": (
        "lock_packages: false",
        "lock_packages: no-thanks",
        "bentofile.yaml: python.lock_packages: no-thanks — true or false",
    ),
    "docker env a list of numbers": (
        'BENTOML_DO_NOT_TRACK: "True"',
        "BENTOML_DO_NOT_TRACK: [1]",
        "bentofile.yaml: docker.env: {BENTOML_DO_NOT_TRACK: [1]} — a mapping of names to texts",
    ),
}


@pytest.mark.parametrize("case", BENTOFILE_CASES, ids=str)
def test_a_broken_bentofile_is_one_line(case, settings, capsys):
    old, new, expected = BENTOFILE_CASES[case]
    path = settings / "bentofile.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, f"the template's bentofile.yaml changed: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    code, lines = check(capsys)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    if case != "a package that is not installed":  # the lock is not consulted before
        with pytest.raises(ConfigError) as raised:  # `make package`: the same line, no traceback
            build_options(Path("bentofile.yaml"), ROOT / "uv.lock")
        assert str(raised.value).startswith(expected)


def test_python_not_a_mapping_is_one_line(settings, capsys):
    raw = yaml.safe_load((settings / "bentofile.yaml").read_text(encoding="utf-8"))
    raw["python"] = ["skops"]
    (settings / "bentofile.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert check(capsys) == (2, ["bentofile.yaml: python: [skops] — a mapping"])


def test_the_known_keys_are_bentoml_s():
    """What bentofile.py accepts is what BentoML's build config takes (less what `make package`
    sets itself)."""
    fields = {field.name.lstrip("_") for field in BentoBuildConfig.__attrs_attrs__}
    set_by_package = set(bentofile.SET_BY_PACKAGE) - {"build_ctx", "version"}  # build()'s own
    assert set(bentofile.TOP) | set_by_package == fields
    assert set(bentofile.PYTHON) == {f.name for f in PythonOptions.__attrs_attrs__}
    assert set(bentofile.DOCKER) == {f.name for f in DockerOptions.__attrs_attrs__}


def test_the_service_s_imports_are_found_in_the_installed_package():
    own, third_party = bentofile.service_imports()
    assert {"serving.service", "core.modelfile", "data.contract"} <= own
    assert {"bentoml", "numpy", "pydantic", "skops", "yaml"} <= third_party
