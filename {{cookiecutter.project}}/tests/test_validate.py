import json

import pandas as pd

from {{ cookiecutter.package }} import validate
from {{ cookiecutter.package }}.config import (
    RAW_DATA,
    VALIDATION_REPORT,
)
from {{ cookiecutter.package }}.contract import load_contract
{%- if cookiecutter.dataset != "csv" %}
from {{ cookiecutter.package }}.data import ingest
{%- endif %}


def raw_frame(workdir) -> pd.DataFrame:
{%- if cookiecutter.dataset != "csv" %}
    from {{ cookiecutter.package }}.config import load_params

    ingest(load_params().data.source)
{%- endif %}
    return pd.read_csv(RAW_DATA)


def test_valid_data_passes(workdir):
    raw_frame(workdir)
    assert validate.main() == 0
    assert json.loads(VALIDATION_REPORT.read_text())["valid"] is True


def test_missing_column_and_missing_target_are_each_reported(workdir, capsys):
    contract = load_contract()
    frame = raw_frame(workdir)
    dropped = [contract.features[0], contract.target]
    frame.drop(columns=dropped).to_csv(RAW_DATA, index=False)
    assert validate.main() == 1
    report = json.loads(VALIDATION_REPORT.read_text())
    assert report["valid"] is False
    for name in dropped:
        assert any(repr(name) in problem for problem in report["problems"]), name
    assert contract.target in capsys.readouterr().err


def test_missing_file_is_reported(workdir):
    RAW_DATA.unlink(missing_ok=True)
    problems = validate.find_problems(RAW_DATA, load_contract())
    assert problems == [f"{RAW_DATA}: file not found"]
