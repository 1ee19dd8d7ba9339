"""Batch scoring (`make predict`): a registered version scores a table in chunks into Parquet,
with the service's contract check and preprocessing, and `make monitor` reads the output.

The registry is real: a scratch git repository with DVC, two versions tagged as `make register`
tags them (the model's hashes in the message) and a stage assigned with `make promote`'s code."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from actions_mlops import cli
from actions_mlops.core.config import MODEL_FILE, ModelParams, load_params
from actions_mlops.core.modelfile import file_hash, save_model
from actions_mlops.core.typed import ConfigError
from actions_mlops.data.contract import load_contract, parse_contract
from actions_mlops.data.features import training_input
from actions_mlops.monitoring.monitor import MONITOR_FILE, PROFILE_FILE
from actions_mlops.monitoring.reference import build_profile
from actions_mlops.release.promote import promote
from actions_mlops.serving import fastpath
from actions_mlops.serving.flags import record_flags
from actions_mlops.training.train import build_model
from conftest import ROOT

CONTRACT = {
    "table": {"key": ["customer"]},
    "columns": {
        "customer": {"dtype": "str", "role": "id"},
        "size": {"dtype": "float", "max_null_fraction": 0.2, "range": [0, 20]},
        "count": {"dtype": "int", "max_null_fraction": 0, "allowed_values": [0, 1, 2, 3, 4]},
        "colour": {
            "dtype": "str",
            "max_null_fraction": 0.2,
            "allowed_values": ["red", "green", "blue"],
        },
        "label": {"dtype": "str", "role": "target"},
    },
}
FEATURES = ["size", "count", "colour"]


def table(rows: int, seed: int) -> pd.DataFrame:
    """Rows like the training data, with missing values where the contract allows them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer": [f"C{seed}-{i:05d}" for i in range(rows)],
            "size": rng.normal(10, 3, rows).round(3),
            "count": rng.integers(0, 5, rows).astype(float),
            "colour": rng.choice(["red", "green", "blue"], rows).astype(object),
        }
    )
    frame["label"] = np.where(frame["size"] + frame["count"] > 12, "high", "low")
    frame.loc[::9, "size"] = np.nan
    frame.loc[::11, "colour"] = None
    return frame


def git(*args: str) -> str:
    identity = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
    result = subprocess.run(["git", *identity, *args], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def register(model, version: str) -> None:
    """Save, track with DVC, commit and tag `model` as `make register` would record it."""
    save_model(model, MODEL_FILE)
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", str(MODEL_FILE)], check=True)
    git("add", "-A")
    git("commit", "-qm", f"model {version}")
    name = load_params().registry.model
    md5, sha256 = file_hash(MODEL_FILE, "md5"), file_hash(MODEL_FILE)
    message = f"{name} {version}\n\nmodel: {MODEL_FILE.as_posix()} md5:{md5} sha256:{sha256}\n"
    git("tag", "-a", f"{name}@{version}", "-m", message)


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> dict:
    """A project with v0.1.0 (in stage prod) and v0.2.0 (the workspace's model), both
    LogisticRegression on the same rows with different regularisation."""
    folder = tmp_path_factory.mktemp("predict")
    shutil.copy(ROOT / "params.yaml", folder)
    artifacts = yaml.safe_load((ROOT / "dvc.yaml").read_text())["artifacts"]
    (folder / "dvc.yaml").write_text(yaml.safe_dump({"artifacts": artifacts}))
    (folder / "contract.yaml").write_text(yaml.safe_dump(CONTRACT, sort_keys=False))
    models = {}
    with contextlib.chdir(folder), pytest.MonkeyPatch.context() as patch:
        patch.setenv("DVC_NO_ANALYTICS", "1")
        git("init", "-q", "-b", "main")
        subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], check=True)
        contract, train = load_contract(), table(400, seed=0)
        for version, strength in (("v0.1.0", 0.01), ("v0.2.0", 10.0)):
            estimator = ModelParams(
                estimator="sklearn.linear_model.LogisticRegression", params={"C": strength}
            )
            model = build_model(contract, estimator)
            models[version] = model.fit(training_input(train, contract), train["label"])
            register(model, version)
        promote("v0.1.0", "prod")
    return {"folder": folder, "models": models, "contract": contract}


@pytest.fixture
def project(registry, tmp_path, monkeypatch) -> dict:
    """The registered project, copied (its git repository and DVC cache too) and entered."""
    folder = tmp_path / "project"
    shutil.copytree(registry["folder"], folder, symlinks=True)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    return registry | {"folder": folder}


def run(*args: str) -> int:
    return cli.main(["predict", *args])


def expected(model, contract, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """What the service answers for these rows: its records through the compiled fast path."""
    compiled, _ = fastpath.preprocessor(model, contract)
    encoded = fastpath.estimator_input(compiled(fastpath.records_of(frame, contract)))
    return fastpath.estimator_outputs(model[-1], encoded, True)


def test_a_table_is_scored_as_the_service_scores_it(project, capsys):
    """CSV in, Parquet out: the key, the row, the features, the champion's (prod) predictions
    and probabilities, equal to the service's and within 1e-9 of the pipeline's; one line."""
    batch = table(250, seed=5).drop(columns="label")
    batch.to_csv("batch.csv", index=False)
    assert run("--data", "batch.csv") == 0
    line = capsys.readouterr().out.strip()
    out = Path("predictions/batch-v0.1.0.parquet")
    assert line.startswith("predict: 250 rows of batch.csv with example-model@v0.1.0 (stage prod")
    assert "250 scored, 0 flagged outside the contract (0 not scored)" in line
    assert " rows/s -> predictions/batch-v0.1.0.parquet" in line
    written = pq.read_table(out)
    assert written.schema.names == [
        "customer",
        "row",
        *FEATURES,
        "prediction",
        "probability_high",
        "probability_low",
        "model_version",
        "warnings",
    ]
    assert written.schema.field("warnings").type == pa.list_(
        pa.struct([("column", pa.string()), ("check", pa.string()), ("msg", pa.string())])
    )
    frame = written.to_pandas()
    assert frame["customer"].tolist() == batch["customer"].tolist()
    assert frame["row"].tolist() == list(range(250))
    assert set(frame["model_version"]) == {"v0.1.0"}
    assert frame["warnings"].map(len).sum() == 0
    model, contract = project["models"]["v0.1.0"], project["contract"]
    classes, shares = expected(model, contract, batch)
    assert frame["prediction"].tolist() == classes.tolist()
    np.testing.assert_array_equal(frame[["probability_high", "probability_low"]], shares)
    pipeline = model.predict_proba(batch[FEATURES])
    assert np.max(np.abs(frame[["probability_high", "probability_low"]] - pipeline)) <= 1e-9
    assert not list(Path("predictions").glob(".*partial"))


def test_rows_outside_the_contract_are_flagged_and_counted_never_silently_scored(project, capsys):
    """Range and allowed values: scored and flagged with the service's own flags. What the
    service's schema refuses (text or a fraction in an int column, infinity, a missing value
    where none is allowed): flagged and not scored, its prediction null."""
    Path("odd.csv").write_text(
        "customer,size,count,colour\n"
        "a,25.0,1,red\n"  # above the range: scored, flagged
        "b,5.0,3,purple\n"  # not an allowed value: scored, flagged
        "c,-1.0,7,red\n"  # below the range and not allowed: scored, two flags
        "d,5.0,three,red\n"  # text in a number column: not scored
        "e,5.0,2.5,red\n"  # a fraction in an int column: not scored
        "f,inf,2,red\n"  # infinity: not scored
        "g,5.0,,blue\n"  # missing where max_null_fraction is 0: not scored
        "h,5.0,2,green\n"  # within the contract
    )
    assert run("--data", "odd.csv", "--version", "v0.2.0", "--out", "out/odd.parquet") == 0
    line = capsys.readouterr().out
    assert "8 rows of odd.csv with example-model@v0.2.0 (version v0.2.0; model from " in line
    assert "4 scored, 7 flagged outside the contract (4 not scored)" in line
    frame = pd.read_parquet("out/odd.parquet")
    scored = frame["prediction"].notna().tolist()
    assert scored == [True, True, True, False, False, False, False, True]
    assert frame.loc[~frame["prediction"].notna(), "probability_high"].isna().all()
    contract = project["contract"]
    outside = {0: (25.0, 1, "red"), 1: (5.0, 3, "purple"), 2: (-1.0, 7, "red")}
    for index, values in outside.items():
        record = dict(zip(FEATURES, values, strict=True))
        service = [flag.model_dump() for flag in record_flags(record, contract)]
        assert [dict(f) for f in frame.loc[index, "warnings"]] == service
    checks = [[(f["column"], f["check"]) for f in flags] for flags in frame["warnings"][3:]]
    refused = [[("count", "type")], [("count", "type")], [("size", "type")], [("count", "missing")]]
    assert checks == [*refused, []]
    assert frame.loc[3, "warnings"][0]["msg"] == "not a number: not scored"
    model = project["models"]["v0.2.0"]
    classes, _ = expected(model, contract, frame.loc[[0, 1, 2, 7], FEATURES])
    assert frame.loc[[0, 1, 2, 7], "prediction"].tolist() == classes.tolist()


def test_a_folder_of_parquet_parts_in_small_chunks_gives_the_same_rows(project, capsys):
    """Parts are read in path order and chunked (7 rows at a time, one row group each): the
    same output as one CSV file read at once."""
    batch = table(40, seed=7).drop(columns="label")
    batch.to_csv("whole.csv", index=False)
    Path("parts").mkdir()
    for index, start in enumerate(range(0, 40, 15)):
        batch.iloc[start : start + 15].to_parquet(f"parts/part-{index}.parquet", index=False)
    Path("parts/_SUCCESS").write_text("")  # what Spark leaves: not a part
    assert run("--data", "whole.csv", "--out", "whole.parquet") == 0
    assert run("--data", "parts", "--out", "parts.parquet", "--chunk-rows", "7") == 0
    assert "40 rows of parts with" in capsys.readouterr().out
    assert pq.ParquetFile("parts.parquet").num_row_groups == 6
    parts, whole = pq.read_table("parts.parquet"), pq.read_table("whole.parquet")
    assert parts.schema.field("customer").type == pa.large_string()  # a key keeps its type
    assert parts.cast(whole.schema).equals(whole)


def test_the_version_comes_from_version_stage_or_the_champion(project, capsys):
    """VERSION and STAGE pick the model (v0.1.0's file fetched from DVC, v0.2.0's the
    workspace's); anything unknown is refused in one line."""
    batch = table(30, seed=9).drop(columns="label")
    batch.to_parquet("batch.parquet", index=False)
    for options, version in (
        ([], "v0.1.0"),
        (["--stage", "prod"], "v0.1.0"),
        (["--version", "v0.2.0"], "v0.2.0"),
    ):
        assert run("--data", "batch.parquet", "--out", "o.parquet", *options) == 0
        frame = pd.read_parquet("o.parquet")
        assert set(frame["model_version"]) == {version}
        _, shares = expected(project["models"][version], project["contract"], batch)
        np.testing.assert_array_equal(frame[["probability_high", "probability_low"]], shares)
    out = capsys.readouterr().out
    assert "model from DVC at example-model@v0.1.0" in out
    assert "model from models/model.skops (sha256 as registered)" in out
    refusals = {
        (
            "--version",
            "v9.9.9",
        ): "example-model has no version 'v9.9.9'; registered: v0.2.0, v0.1.0",
        ("--stage", "staging"): "no version of example-model is in stage 'staging'",
        (
            "--version",
            "v0.1.0",
            "--stage",
            "prod",
        ): "give a version (v0.1.0) or a stage (prod), not both",
    }
    for options, reason in refusals.items():
        assert run("--data", "batch.parquet", *options) == 1
        assert capsys.readouterr().err.startswith(f"predict: refused: {reason}")
    assert run("--data", "nowhere.csv") == 1
    assert capsys.readouterr().err == "predict: refused: nowhere.csv: no such file or folder\n"


def test_a_tampered_model_file_is_refused_and_nothing_is_written(project, capsys):
    """v0.1.0's file in the DVC cache no longer has its registered hash: refused, no output."""
    digest = file_hash(MODEL_FILE, "md5")  # v0.2.0's, the workspace's; v0.1.0 is in the cache
    cached = [p for p in Path(".dvc/cache/files/md5").rglob("*") if p.is_file()]
    (tampered,) = [p for p in cached if p.parent.name + p.name != digest]
    tampered.chmod(0o644)
    tampered.write_bytes(tampered.read_bytes() + b"\0")
    table(5, seed=1).drop(columns="label").to_csv("batch.csv", index=False)
    assert run("--data", "batch.csv", "--stage", "prod") == 1
    err = capsys.readouterr().err
    assert err.startswith("predict: refused: ") and err.count("\n") == 1
    assert "registered in tag example-model@v0.1.0; refusing it" in err
    assert not Path("predictions").exists()


def test_monitor_reads_the_predictions_as_a_batch_and_joins_labels_by_the_key(project, capsys):
    """`make monitor BATCH=<output> LABELS=...`: drift against the reference, the flags counted
    per column as the service's log counts them, performance joined on table.key."""
    if load_params().task != "classification":
        pytest.skip("the labels joined here are classes (table() draws a class label)")
    contract, train = project["contract"], table(400, seed=0)
    importance = [{"feature": f, "importance": 1.0} for f in contract.features]
    PROFILE_FILE.parent.mkdir(parents=True, exist_ok=True)
    PROFILE_FILE.write_text(json.dumps(build_profile(train, contract, importance)))
    batch = table(300, seed=3)
    batch.loc[[0, 1], "size"] = [30.0, -2.0]
    batch.loc[2, "colour"] = "purple"
    batch.drop(columns="label").to_csv("batch.csv", index=False)
    batch[["customer", "label"]].to_csv("labels.csv", index=False)
    assert run("--data", "batch.csv", "--out", "scored.parquet") == 0
    assert cli.main(["monitor", "--batch", "scored.parquet", "--labels", "labels.csv"]) == 0
    report = json.loads(MONITOR_FILE.read_text())
    assert report["rows"] == 300 and report["verdict"] == "ok"
    assert report["out_of_contract"] == {
        "rows": 3,
        "columns": {"size": {"range": 2}, "colour": {"allowed_values": 1}},
    }
    assert report["performance"]["labelled_rows"] == 300
    assert report["performance"]["metrics"]["accuracy"] > 0.8
    capsys.readouterr()


def test_pii_columns_are_masked_in_the_output_as_in_the_log(project, monkeypatch):
    contract = yaml.safe_load(Path("contract.yaml").read_text())
    contract["columns"]["colour"]["pii"] = True
    Path("contract.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    git("commit", "-qam", "colour is personal")
    name = load_params().registry.model
    message = git("tag", "-l", "--format=%(contents)", f"{name}@v0.2.0")
    git("tag", "-a", f"{name}@v0.2.1", "-m", message.replace("v0.2.0", "v0.2.1"))
    table(20, seed=2).drop(columns="label").to_csv("batch.csv", index=False)
    assert run("--data", "batch.csv", "--version", "v0.2.1", "--out", "p.parquet") == 0
    colours = pd.read_parquet("p.parquet")["colour"]
    assert set(colours.dropna()) == {"<pii>"} and colours.isna().sum() == 2
    monkeypatch.setenv("PREDICTION_LOG_KEY", "k")
    assert run("--data", "batch.csv", "--version", "v0.2.1", "--out", "p.parquet") == 0
    assert pd.read_parquet("p.parquet")["colour"].dropna().str.match(r"^hmac:[0-9a-f]{16}$").all()


def test_the_row_key_names_columns_other_than_the_target():
    columns = {"y": {"dtype": "str", "role": "target"}, "x": {"dtype": "float"}}
    assert parse_contract({"table": {"key": ["id"]}, "columns": columns}).table.key == ("id",)
    for key in (["y"], ["id", "id"], [""]):
        with pytest.raises(ConfigError, match=r"table\.key: .* — distinct column names"):
            parse_contract({"table": {"key": key}, "columns": columns})


def test_drafting_the_contract_again_keeps_the_row_key_named_by_hand():
    """`make schema` redrafts an unreviewed table section; the key a person named stays."""

    from actions_mlops.data.infer import merge_reviewed

    columns = {"y": {"dtype": "str", "role": "target"}, "x": {"dtype": "float"}}
    draft = parse_contract({"table": {"inferred": True, "severity": "warn"}, "columns": columns})
    current = draft.model_copy(
        update={"table": draft.table.model_copy(update={"key": ("customer",)})}
    )
    assert merge_reviewed(draft, current)[0].table.key == ("customer",)


def test_a_regression_model_writes_its_numbers_and_no_probabilities(tmp_path):
    from actions_mlops.release.predict import Scorer, predict

    contract = parse_contract(CONTRACT | {"table": {}})
    train = table(200, seed=4)
    train["label"] = train["size"].fillna(10) * 2.0 + train["count"]
    model = build_model(contract, ModelParams("sklearn.linear_model.Ridge"))
    model.fit(training_input(train, contract), train["label"])
    train.drop(columns="label").to_parquet(tmp_path / "in.parquet", index=False)
    counts = predict(
        tmp_path / "in.parquet", tmp_path / "out.parquet", Scorer("v1.0.0", model, contract, [])
    )
    assert (counts.rows, counts.scored, counts.flagged) == (200, 200, 0)
    written = pq.read_table(tmp_path / "out.parquet")
    assert written.schema.names == ["row", *FEATURES, "prediction", "model_version", "warnings"]
    assert written.schema.field("prediction").type == pa.float64()
    expected = model.predict(train[FEATURES])
    assert np.max(np.abs(written["prediction"].to_numpy() - expected)) <= 1e-9


def test_memory_follows_the_chunk_not_the_table(tmp_path, monkeypatch):
    """Arrow's memory while scoring 200,000 rows in chunks of 5,000 (row groups of 5,000)
    stays within a few chunks' bytes: the reader holds one row group, not the file."""
    from actions_mlops.release import predict as batch

    contract = parse_contract(CONTRACT)
    train = table(300, seed=6)
    model = build_model(contract, ModelParams("sklearn.linear_model.LogisticRegression"))
    model.fit(training_input(train, contract), train["label"])
    rows = pa.Table.from_pandas(table(200_000, seed=8).drop(columns="label"), preserve_index=False)
    pq.write_table(rows, tmp_path / "big.parquet", row_group_size=5_000)
    chunk_bytes, table_bytes = rows.slice(0, 5_000).nbytes, rows.nbytes
    del rows  # Arrow's count is of every live buffer: the test's copy of the table goes
    scorer = batch.Scorer("v1.0.0", model, contract, ["customer"])
    held = []
    score = scorer.score

    def measured(chunk, first, schema):
        held.append(pa.total_allocated_bytes())
        return score(chunk, first, schema)

    monkeypatch.setattr(scorer, "score", measured)
    counts = batch.predict(tmp_path / "big.parquet", tmp_path / "out.parquet", scorer, 5_000)
    assert counts.rows == 200_000 and len(held) == 40
    assert max(held) < 10 * chunk_bytes < table_bytes / 4, (held, chunk_bytes)


def test_a_table_without_a_feature_or_the_key_is_refused_naming_them(project, capsys):
    table(5, seed=1).drop(columns=["label", "count", "customer"]).to_csv("b.csv", index=False)
    assert run("--data", "b.csv") == 1
    err = capsys.readouterr().err
    assert err.startswith("predict: refused: b.csv: no column 'customer', 'count' (the version")


def test_spark_executors_refuse_model_bytes_of_another_hash(tmp_path):
    """The bytes shipped to Spark's executors are loaded only when their sha256 is the one the
    driver sent (release/spark.py; no Spark needed to check it); CSV missing strings read null."""
    import dataclasses
    import hashlib

    from actions_mlops.core.errors import StepError
    from actions_mlops.release import spark

    contract = parse_contract(CONTRACT)
    train = table(100, seed=4)
    model = build_model(contract, ModelParams("sklearn.linear_model.LogisticRegression"))
    save_model(model.fit(training_input(train, contract), train["label"]), tmp_path / "m.skops")
    data = (tmp_path / "m.skops").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    payload = spark.Payload(data + b"\0", digest, "v1.0.0", contract, ["customer"], None)
    with pytest.raises(StepError, match=f"model bytes received differ from sha256:{digest}"):
        spark.executor_scorer(payload)
    scorer = spark.executor_scorer(dataclasses.replace(payload, model=data))
    assert scorer.classes == ["high", "low"] and scorer.key == ["customer"]
    read = spark.as_missing(pa.table({"a": ["1", "NA", "", "n/a", "x"], "b": [1, 2, 3, 4, 5]}))
    assert read.column("a").to_pylist() == ["1", None, None, None, "x"]
