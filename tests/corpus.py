"""The adoption corpus: real tables no one here wrote, from packages that ship their data offline
(scikit-learn, statsmodels, vega_datasets, palmerpenguins), each written as the CSV a user would
hand to `make adopt`.

Each table keeps its real values. Where a table lacks a hazard a user's export often has, the
hazard is added the way it arrives, and its loader says so: the target as text, a row id in a
file sorted by the target, a collection date in the same order, a coded copy of the target,
money in large units, a yes/no flag exported as true/false, an optional field left mostly empty.

`TABLES` is the corpus `make test` runs (tests/test_adopt.py); `large()` is the 50k+ row table
of the benchmark (bench/adoption.py): no table shipped offline has 50,000 rows, so it is built
from the largest one (statsmodels' randhie, 20,190 rows), as said in its docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.datasets as statsmodels_data
from palmerpenguins import load_penguins
from sklearn import datasets
from vega_datasets import local_data


@dataclass(frozen=True)
class Table:
    """A corpus table, its target and what adoption must decide about it."""

    name: str
    load: Callable[[], pd.DataFrame]
    target: str
    task: str
    left_out: dict[str, str]  # column -> role (id or ignored) adoption must give it
    review: tuple[str, ...]  # phrases the printed review must contain
    covers: str  # the hazards the table brings
    # Near-leaks (a feature alone scores >= 0.95) known when predicting: the user reads the
    # validation warning and lists them in params.yaml gate.acknowledged_leaks.
    acknowledged: tuple[str, ...] = ()


def whole_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns holding only whole numbers (and no missing value) as integers: statsmodels
    reads its CSV files as floats; the files, and a user's export, hold `3`, not `3.0`."""
    frame = frame.copy()
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_float_dtype(values) and values.notna().all():
            if bool((values == values.round()).all()):
                frame[name] = values.astype("int64")
    return frame


def iris() -> pd.DataFrame:
    """Multi-class, the target as text, and a coded copy of it (a near-copy of the target)."""
    bunch = datasets.load_iris(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["species_code"] = bunch.target
    frame["species"] = bunch.target_names[bunch.target]
    return frame


def breast_cancer() -> pd.DataFrame:
    """Binary, the target as text, an integer row id in a file sorted by the target."""
    bunch = datasets.load_breast_cancer(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["diagnosis"] = bunch.target_names[bunch.target]
    frame = frame.sort_values("diagnosis", kind="stable").reset_index(drop=True)
    frame.insert(0, "patient_id", np.arange(1, len(frame) + 1))
    return frame


def wine() -> pd.DataFrame:
    """Three classes as whole numbers, and the date each row was received, in the file's order
    (sorted by the target, as an export by batch would be)."""
    frame = datasets.load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame = frame.sort_values("cultivar", kind="stable").reset_index(drop=True)
    days = pd.date_range("2024-01-01", periods=len(frame), freq="D")
    frame.insert(0, "received", days.strftime("%Y-%m-%d"))
    return frame


def diabetes() -> pd.DataFrame:
    """Regression on the raw (unscaled) measurements, the target as a cost in large units."""
    frame = datasets.load_diabetes(as_frame=True, scaled=False).frame
    frame["cost"] = frame.pop("target") * 1000.0
    return frame


def penguins() -> pd.DataFrame:
    """palmerpenguins as shipped: species as text (3 classes), island and sex as text, missing
    measurements and sexes, the study year as a whole number."""
    return load_penguins()


def cars() -> pd.DataFrame:
    """vega_datasets' cars as shipped: the origin as text (3 classes), the car's name as free text
    (a distinct-ish string per row), the model year as a date, missing mpg and horsepower."""
    frame = local_data.cars()
    frame["Year"] = frame["Year"].dt.strftime("%Y-%m-%d")
    return frame


def seattle_weather() -> pd.DataFrame:
    """vega_datasets' seattle-weather as shipped: one row per day (a date), 5 weather classes of
    very unequal size (sun and rain ~44% each, snow 1.8%)."""
    frame = local_data.seattle_weather()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    return frame


def anes96() -> pd.DataFrame:
    """statsmodels' 1996 US election survey: the vote as 0/1, and a column with its own log
    (popul, logpopul)."""
    return whole_numbers(statsmodels_data.anes96.load_pandas().data)


def fair() -> pd.DataFrame:
    """statsmodels' affairs survey (Fair, 1978), as its own example models it: the target is
    whether a respondent had an affair, exported as true/false (a boolean, 32% true). The amount
    (`affairs`) stays in the file: a near-copy of the target. The husband's occupation is an
    optional field left empty by 45% of respondents (heavy missingness; seeded)."""
    frame = whole_numbers(statsmodels_data.fair.load_pandas().data)
    frame["had_affair"] = frame["affairs"] > 0
    empty = np.random.default_rng(0).random(len(frame)) < 0.45
    frame["occupation_husb"] = frame["occupation_husb"].where(~empty)
    return frame


def modechoice() -> pd.DataFrame:
    """statsmodels' travel mode choice: 4 rows per traveller (one per mode), `choice` 1 on the
    mode taken (25%: imbalanced), the traveller's number in file order (an integer key that rises
    with the rows, repeated 4 times)."""
    return whole_numbers(statsmodels_data.modechoice.load_pandas().data)


def grunfeld() -> pd.DataFrame:
    """statsmodels' Grunfeld investment panel: regression on investment (values up to 1,486),
    the firm as text, the year as a whole number."""
    return whole_numbers(statsmodels_data.grunfeld.load_pandas().data)


def stocks() -> pd.DataFrame:
    """vega_datasets' stocks as shipped: monthly prices (up to 800) of 5 symbols, a date column;
    regression on the price."""
    frame = local_data.stocks()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    return frame


def large() -> pd.DataFrame:
    """60,570 rows for the benchmark: statsmodels' randhie (the RAND health insurance experiment,
    20,190 person-years, visits to a doctor) three times over, as three yearly extracts would
    stack. The rows repeat, so its metrics measure fitting, not generalisation: the benchmark
    reads its times only."""
    frame = statsmodels_data.randhie.load_pandas().data
    return pd.concat([frame] * 3, ignore_index=True)


def _table(load: Callable[[], pd.DataFrame], target: str, task: str, **rest) -> Table:
    return Table(load.__name__, load, target, task, rest.pop("left_out", {}), **rest)


TABLES: list[Table] = [
    _table(
        iris, "species", "classification",
        left_out={"species_code": "ignored"},
        review=("task: classification (3 classes)", "left out species_code as ignored"),
        covers="string target, multi-class, a coded copy of the target",
        acknowledged=("petal width (cm)",),
    ),
    _table(
        breast_cancer, "diagnosis", "classification",
        left_out={"patient_id": "id"},
        review=("task: classification (binary)", "left out patient_id as id"),
        covers="string target, binary, an integer id in a file sorted by the target",
    ),
    _table(
        wine, "cultivar", "classification",
        left_out={"received": "ignored"},
        review=("task: classification (3 classes)", "left out received as ignored: dates or times"),
        covers="whole-number classes, a collection date in target order",
    ),
    _table(
        diabetes, "cost", "regression",
        review=(
            "task: regression",
            "model: sklearn.linear_model.Ridge and its sweep grid",
            "rmse margin",
        ),
        covers="regression with large values",
    ),
    _table(
        penguins, "species", "classification",
        review=("task: classification (3 classes)",),
        covers="string target, multi-class, missing values, text features",
    ),
    _table(
        cars, "Origin", "classification",
        left_out={"Name": "ignored", "Year": "ignored"},
        review=("task: classification (3 classes)", "left out Year as ignored: dates or times"),
        covers="string target, free text, a date, missing values",
    ),
    _table(
        seattle_weather, "weather", "classification",
        left_out={"date": "ignored"},
        review=("task: classification (5 classes)", "left out date as ignored: dates or times"),
        covers="multi-class imbalance (1.8% snow), a date per row",
    ),
    _table(
        anes96, "vote", "classification",
        review=("task: classification (binary)",),
        covers="a 0/1 target, survey codes",
    ),
    _table(
        fair, "had_affair", "classification",
        left_out={"affairs": "ignored"},
        review=("task: classification (binary)", "left out affairs as ignored: a near-copy"),
        covers="boolean target, a near-copy of the target, heavy missingness (45%), imbalance",
    ),
    _table(
        modechoice, "choice", "classification",
        left_out={"individual": "ignored"},
        review=("task: classification (binary)", "left out individual as ignored"),
        covers="class imbalance (25%), an integer key rising with the rows",
    ),
    _table(
        grunfeld, "invest", "regression",
        review=("task: regression", "rmse margin"),
        covers="regression with large values, a text category, a year",
    ),
    _table(
        stocks, "price", "regression",
        left_out={"date": "ignored"},
        review=("task: regression", "left out date as ignored: dates or times"),
        covers="regression, a date, a text category",
    ),
]  # fmt: skip
