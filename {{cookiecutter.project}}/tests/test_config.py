from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package }}.config import load_params
from {{ cookiecutter.package }}.metrics import METRICS


def test_params_name_known_metrics(params):
    assert params.evaluate.metrics, "params.yaml evaluate.metrics is empty"
    assert set(params.evaluate.metrics) <= set(METRICS)
    assert params.evaluate.primary in params.evaluate.metrics


def test_missing_section_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text("task: classification\n", encoding="utf-8")
    with pytest.raises(ValueError, match="invalid or missing setting"):
        load_params(path)


def test_raw_data_must_be_csv_or_parquet(params, tmp_path: Path):
    settings = {**params.raw, "data": {**params.raw["data"], "raw": "data/raw/dataset.xlsx"}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    with pytest.raises(ValueError, match=r"data.raw must end in \.csv or \.parquet"):
        load_params(path)
