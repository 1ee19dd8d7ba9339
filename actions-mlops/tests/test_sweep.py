"""The sweep's plan: what sweep.yml's matrix gets, and the grids GitHub would refuse."""

import json
from argparse import Namespace

import pytest

from actions_mlops.training.sweep import MATRIX_LIMIT, main


def listed(capsys, monkeypatch, grid: str) -> tuple[int, str, str]:
    monkeypatch.setenv("SWEEP_GRID", grid)
    code = main(Namespace(list=True, point=None, rank=False))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_plan_is_one_matrix_entry_per_point(capsys, monkeypatch):
    code, out, _ = listed(capsys, monkeypatch, '{"model.params.n_estimators": [10, 20, 30]}')
    assert code == 0 and out.strip() == '{"point": [0, 1, 2]}'


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("{}", "is not a mapping of params to lists"),
        ('{"model.params.n_estimators": []}', "is not a non-empty list"),
        ('{"model.params.n_estimators": 5}', "is not a non-empty list"),
        ("{not json", "SWEEP_GRID: not JSON"),
        (
            json.dumps({"a": list(range(MATRIX_LIMIT // 2)), "b": [1, 2, 3]}),
            f"exceed GitHub's limit of {MATRIX_LIMIT} matrix jobs",
        ),
    ],
)
def test_a_grid_github_would_refuse_is_one_line(capsys, monkeypatch, grid, message):
    code, out, err = listed(capsys, monkeypatch, grid)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
