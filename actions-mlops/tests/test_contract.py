"""The contract format (load, dump) and its inference (`make schema`)."""

from argparse import Namespace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as arrow
import pyarrow.parquet as pq
import pytest
import yaml

import actions_mlops.data.contract as spec
import actions_mlops.data.infer as infer
import actions_mlops.data.tables as tables
from actions_mlops import cli
from actions_mlops.core.typed import ConfigError
from actions_mlops.data.validate import validate_file


def test_the_project_contract_round_trips_through_yaml(contract):
    assert contract.target in contract.columns
    assert spec.parse_contract(yaml.safe_load(spec.dump_contract(contract))) == contract


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("columns: {y: {dtype: float, role: target, max_nul_fraction: 0}}", "unknown key"),
        ("columns: {y: {dtype: text, role: target}}", "dtype: text — one of int, float"),
        ("columns: {y: {dtype: str, role: target, allowed_values: [true, no]}}", "quote yes/no"),
        ("columns: {x: {dtype: float}}", "exactly one column needs role 'target'"),
        ("table: {min_row: 3}\ncolumns: {y: {dtype: int, role: target}}", "did you mean min_rows"),
        ("columns: {y: {dtype: float, role: target, range: [0]}}", "range: \\[0\\] — a list of 2"),
        ("columns:\n  y: {dtype: float\n", "contract.yaml: line 3, column 1: not valid YAML"),
    ],
)
def test_mistakes_in_the_contract_are_clear_errors(tmp_path, monkeypatch, text, error):
    monkeypatch.chdir(tmp_path)
    Path("contract.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=error):
        spec.load_contract(Path("contract.yaml"))


def test_inference_is_cautious_and_marks_every_rule(params, messy):
    frame, _ = messy(params.task, rows=2000)
    inferred = infer.infer_contract(frame, "label", params.task)
    assert spec.parse_contract(yaml.safe_load(spec.dump_contract(inferred))) == inferred
    columns: list[spec.Column | spec.TableRules] = [*inferred.columns.values(), inferred.table]
    assert all(c.inferred and c.severity == "warn" for c in columns)
    low, high = inferred.columns["size"].range or (None, None)
    assert low is not None and high is not None
    observed = frame["size"].agg(["min", "max"])
    assert low < observed["min"] and high > observed["max"] + 0.4 * np.ptp(frame["size"].dropna())
    assert inferred.columns["colour"].allowed_values == ("blue", "green", "red")
    assert inferred.columns["size"].max_null_fraction >= frame["size"].isna().mean()
    text = spec.dump_contract(inferred)
    assert (
        text.startswith(
            "# yaml-language-server: $schema=.schemas/contract.schema.json\n# Data contract"
        )
        and "inferred: true" in text
    )


def test_columns_with_many_values_get_no_category_list(params):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "code": rng.integers(0, 150, 2000).astype(str),
            "key": [f"k{i}" for i in range(2000)],
            "label": rng.integers(0, 2, 2000),
        }
    )
    inferred = infer.infer_contract(frame, "label", params.task)
    assert inferred.columns["code"].allowed_values is None
    assert (inferred.columns["key"].role, inferred.columns["key"].unique) == ("id", True)


@pytest.mark.parametrize("name", ["project", "messy"])
def test_resamples_and_new_samples_pass_the_inferred_contract(project_frame, params, messy, name):
    if name == "project":
        frame, target, fresh = project_frame(), spec.load_contract().target, None
    else:
        frame, _ = messy(params.task, rows=1000, seed=1)
        target, fresh = "label", messy(params.task, rows=1000, seed=2)[0]
    inferred = infer.infer_contract(frame, target, params.task)
    Path("contract.yaml").write_text(spec.dump_contract(inferred), encoding="utf-8")
    contract = spec.load_contract(Path("contract.yaml"))
    rng = np.random.default_rng(0)
    batches = [frame.sample(frac=0.5, random_state=int(rng.integers(10**9))) for _ in range(20)]
    for batch in [*batches, *([fresh] if fresh is not None else [])]:
        batch.to_csv("batch.csv", index=False)
        findings, _ = validate_file(Path("batch.csv"), contract)
        assert findings == [], [f.message for f in findings]


def test_make_schema_drafts_a_contract_with_the_current_target(project_frame, contract):
    frame = project_frame()
    Path("contract.yaml").unlink()
    args = Namespace(data=None, target=contract.target, output=Path("draft.yaml"))
    assert infer.main(args) == 0
    draft = spec.load_contract(Path("draft.yaml"))
    assert draft.target == contract.target
    assert list(draft.columns) == list(frame.columns)
    assert all(c.severity == "warn" for c in draft.columns.values())
    assert draft.draft_only


def test_redrafting_keeps_the_rules_a_person_reviewed(project_frame, contract):
    """`make schema` again after a review: the reviewed column and table rules survive, every
    other column is drafted afresh (here all of the project's contract is reviewed, then one
    column is turned back into a draft)."""
    frame = project_frame()
    feature = contract.features[0]
    drafted = infer.infer_contract(frame, contract.target, "classification")
    columns = contract.columns | {feature: drafted.columns[feature]}
    Path("contract.yaml").write_text(
        spec.dump_contract(spec.Contract(columns=columns, table=contract.table)), encoding="utf-8"
    )
    assert infer.main(Namespace(data=None, target=None, output=Path("contract.yaml"))) == 0
    redrafted = spec.load_contract(Path("contract.yaml"))
    reviewed = [n for n in contract.columns if n != feature]
    assert all(redrafted.columns[n] == contract.columns[n] for n in reviewed)
    assert redrafted.table == contract.table
    assert redrafted.columns[feature].inferred


def test_a_missing_target_is_one_line_naming_the_columns(project_frame, capsys):
    project_frame()
    assert cli.main(["schema", "--target", "nope", "--output", "draft.yaml"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("schema: refused: no column 'nope'; the table has: ")
    assert len(err.splitlines()) == 1 and not Path("draft.yaml").exists()


def leaky(messy, task: str, rows: int = 600) -> pd.DataFrame:
    """A messy table plus the columns an export often carries that must not become features."""
    frame, _ = messy(task, rows=rows)
    rng = np.random.default_rng(3)
    label = frame["label"]
    return frame.assign(
        row=np.arange(rows),  # a row number
        # rows in collection order: an increasing time, and its date as text
        collected=np.cumsum(rng.uniform(1, 60, rows)),
        day=pd.date_range("2024-01-01", periods=rows, freq="h").strftime("%Y-%m-%d %H:%M"),
        # the answer again, coded
        code=label.map({"high": 1, "low": 0}) if task == "classification" else label * 3 + 1,
        note=rng.choice([f"remark {i}" for i in range(150)], rows),  # free text, repeated
        rooms=rng.integers(1, 6, rows),  # a plain whole-number feature
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_ids_order_dates_copies_and_free_text_are_drafted_out_of_the_model(messy, task):
    frame = leaky(messy, task)
    inferred = infer.infer_contract(frame, "label", task)
    roles = {n: (c.role, c.reason or "") for n, c in inferred.columns.items()}
    assert roles["row"][0] == "id" and "row number" in roles["row"][1]
    assert roles["collected"][0] == "ignored" and "collection time" in roles["collected"][1]
    assert roles["day"][0] == "ignored" and "dates" in roles["day"][1]
    assert roles["code"][0] == "ignored" and "near-copy of the target" in roles["code"][1]
    assert roles["note"][0] == "ignored" and "distinct text values" in roles["note"][1]
    assert inferred.features == ["size", "colour", "rooms"]
    assert spec.parse_contract(yaml.safe_load(spec.dump_contract(inferred))) == inferred


def test_a_row_id_of_a_file_sorted_by_the_target_is_never_a_feature(messy):
    """The issue's case: an integer id 1..N in a file sorted by the target."""
    frame, _ = messy("regression", rows=500)
    frame = frame.sort_values("label").reset_index(drop=True)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    inferred = infer.infer_contract(frame, "label", "regression")
    assert "id" not in inferred.features


def test_an_amount_whose_zero_means_no_is_a_near_copy_of_a_yes_no_target(messy):
    """The corpus's affairs survey: the target is `amount > 0`; the amount stays in the file."""
    frame, _ = messy("classification", rows=600)
    amount = np.random.default_rng(5).gamma(2.0, 3.0, len(frame)).round(2) + 0.01
    frame["amount"] = np.where(frame["label"] == "high", amount, 0.0)
    inferred = infer.infer_contract(frame, "label", "classification")
    column = inferred.columns["amount"]
    assert column.role == "ignored" and "near-copy of the target" in (column.reason or "")


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_csv_and_parquet_read_to_the_same_frame(tmp_path, messy, task):
    """The pipeline sees the same frame whichever format data.raw has: missing values, text
    categories and booleans (text in CSV, typed in Parquet) included; columns outside the
    contract are skipped when asked, in both formats."""
    frame, contract = messy(task)
    frame["flag"] = frame["size"] > 10
    frame["notes"] = "a column the contract does not know"
    contract = spec.Contract(
        columns=contract.columns | {"flag": spec.Column(name="flag", dtype="bool")}
    )
    files = [tables.write_table(frame, tmp_path / name) for name in ("raw.csv", "raw.parquet")]
    for only_contract in (False, True):
        csv, parquet = (tables.read_table(path, contract, only_contract) for path in files)
        pd.testing.assert_frame_equal(csv, parquet)
        assert ("notes" in parquet.columns) is not only_contract
    assert set(parquet["flag"]) == {"True", "False"}
    assert parquet["colour"].isna().sum() == frame["colour"].isna().sum() > 0


def test_typed_parquet_columns_read_and_validate_like_their_csv_text(tmp_path):
    """Parquet written by other tools (pyarrow, Spark, a database export) brings types CSV does
    not have: decimals, numbers stored as text, booleans and integer codes with gaps. They read
    to the frame the same rows give as CSV, and pass the contract the CSV passes."""
    table = arrow.table(
        {
            "price": arrow.array(
                [Decimal("1.50"), None, Decimal("2.25"), Decimal("3.00")], arrow.decimal128(10, 2)
            ),
            "size": ["1.5", "2", None, "4"],
            "paperless": [True, None, False, True],
            "plan": arrow.array([1, 2, None, 3], arrow.int64()),
            "label": ["a", "b", "a", "b"],
        }
    )
    pq.write_table(table, tmp_path / "raw.parquet")
    csv = tmp_path / "raw.csv"
    csv.write_text(
        "price,size,paperless,plan,label\n1.50,1.5,True,1,a\n,2,,2,b\n2.25,,False,,a\n"
        "3.00,4,True,3,b\n"
    )
    contract = spec.Contract(
        columns={
            "price": spec.Column(name="price", dtype="float"),
            "size": spec.Column(name="size", dtype="float"),
            "paperless": spec.Column(
                name="paperless", dtype="bool", allowed_values=("False", "True")
            ),
            "plan": spec.Column(name="plan", dtype="str", allowed_values=("1", "2", "3")),
            "label": spec.Column(name="label", dtype="str", role="target"),
        }
    )
    parquet = tables.read_table(tmp_path / "raw.parquet", contract)
    pd.testing.assert_frame_equal(tables.read_table(csv, contract), parquet)
    assert parquet["plan"].tolist()[:2] == ["1", "2"] and parquet["price"].dtype == "float64"
    for path in (csv, tmp_path / "raw.parquet"):
        findings, rows = validate_file(path, contract)
        assert (findings, rows) == ([], 4), [f.message for f in findings]


def test_float32_max_is_numpys():
    """The contract holds float32's largest value as a literal (serving reads it without numpy)."""
    assert float(np.finfo(np.float32).max) == spec.FLOAT32_MAX
