"""The service's fast path (serving/fastpath.py) predicts what the pipeline predicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler

from actions_mlops.core.config import (
    MODEL_FILE,
    TEST_SPLIT,
    ModelParams,
    OneHotParams,
)
from actions_mlops.core.modelfile import save_model
from actions_mlops.data.contract import Contract
from actions_mlops.data.features import training_input
from actions_mlops.data.split import split
from actions_mlops.release import package
from actions_mlops.release.registry import RegistryError
from actions_mlops.serving.fastpath import (
    ROW_LOOP,
    TOLERANCE,
    CompiledFeatures,
    PipelineFeatures,
    estimator_outputs,
    largest_difference,
    preprocessor,
    records_of,
)
from actions_mlops.training.train import build_model

LINEAR = {
    "classification": ModelParams(estimator="sklearn.linear_model.LogisticRegression"),
    "regression": ModelParams(estimator="sklearn.linear_model.Ridge"),
}


def fit(frame: pd.DataFrame, contract: Contract, model: ModelParams):
    """The model as `make train` fits it."""
    fitted = build_model(contract, model)
    return fitted.fit(training_input(frame, contract), frame[contract.target])


def test_the_example_model_is_compiled_and_predicts_as_the_pipeline(
    params, contract, project_frame
):
    """The project's data and estimator: the compiled path is the one served, and equal."""
    train, test = split(project_frame(), contract, params.split)
    model = fit(train, contract, params.model)
    compiled, fallback = preprocessor(model, contract)
    assert fallback is None and isinstance(compiled, CompiledFeatures)
    assert largest_difference(model, compiled, test, contract) <= TOLERANCE


def test_missing_values_string_and_unknown_categories_give_the_pipelines_numbers(params, messy):
    frame, contract = messy(params.task)
    model = fit(frame, contract, LINEAR[params.task])
    compiled, _ = preprocessor(model, contract)
    unusual = pd.DataFrame({"size": [np.nan, 1e30, -3.0], "colour": ["purple", None, "red"]})
    rows = pd.concat([frame, unusual], ignore_index=True)
    records = records_of(rows, contract)
    expected = PipelineFeatures(model, contract)(records)
    np.testing.assert_array_equal(compiled(records), expected)
    assert largest_difference(model, compiled, frame, contract) <= TOLERANCE


def test_capped_one_hot_columns_are_compiled_rare_and_unseen_values_share_a_column(params, messy):
    """params.yaml's model.one_hot caps: rare and unseen values go to the "infrequent" column."""
    frame, contract = messy(params.task)
    frame.loc[:30, "colour"] = [f"rare{index % 12}" for index in range(31)]  # < 5 rows each
    caps = OneHotParams(max_categories=4, min_frequency=5)
    model = fit(frame, contract, ModelParams(estimator=LINEAR[params.task].estimator, one_hot=caps))
    compiled, fallback = preprocessor(model, contract)
    assert fallback is None and isinstance(compiled, CompiledFeatures)
    unseen = pd.DataFrame({"size": [1.0, 2.0], "colour": ["purple", "rare3"]})
    records = records_of(pd.concat([frame, unseen], ignore_index=True), contract)
    np.testing.assert_array_equal(compiled(records), PipelineFeatures(model, contract)(records))


def test_a_table_gives_the_numbers_its_rows_give_as_records(params, messy):
    """The batch entry (`table`, make predict) and the request entry (records) of both
    preprocessings: the same numbers, rare, unseen and missing values included; beyond ROW_LOOP
    rows the one-hot encoder looks values up per column, not per value."""
    frame, contract = messy(params.task)
    frame.loc[:30, "colour"] = [f"rare{index % 12}" for index in range(31)]
    caps = OneHotParams(max_categories=4, min_frequency=5)
    for one_hot in (OneHotParams(), caps):
        model = fit(frame, contract, ModelParams(LINEAR[params.task].estimator, one_hot=one_hot))
        unseen = pd.DataFrame({"size": [np.nan, 2.0], "colour": ["purple", None]})
        rows = pd.concat([frame, unseen], ignore_index=True)[contract.features]
        assert len(rows) > ROW_LOOP
        records = records_of(rows, contract)
        compiled, pipeline = preprocessor(model, contract)[0], PipelineFeatures(model, contract)
        np.testing.assert_array_equal(compiled.table(rows), compiled(records))
        np.testing.assert_array_equal(compiled(records), compiled(records[:3] + records[3:]))
        small = [compiled(records[i : i + ROW_LOOP]) for i in range(0, len(records), ROW_LOOP)]
        np.testing.assert_array_equal(np.vstack(small), compiled(records))
        np.testing.assert_array_equal(pipeline.table(rows), pipeline(records))


def test_an_unknown_step_or_fast_path_off_falls_back_to_the_pipeline(params, messy, monkeypatch):
    frame, contract = messy(params.task)
    scaled = make_pipeline(SimpleImputer(), MinMaxScaler())
    model = Pipeline([("features", ColumnTransformer([("size", scaled, ["size"])]))])
    model.steps.append(("estimator", Ridge()))
    model.fit(frame[contract.features], np.arange(len(frame)))
    preprocess, why = preprocessor(model, contract)
    assert isinstance(preprocess, PipelineFeatures) and why == "not compiled: a MinMaxScaler step"
    monkeypatch.setenv("FAST_PATH", "off")
    assert preprocessor(model, contract)[1] == "FAST_PATH=off"


def test_package_refuses_a_fast_path_that_predicts_differently(params, messy, workdir: Path):
    frame, contract = messy(params.task)
    label = {"dtype": contract.columns["label"].dtype, "role": "target"}
    columns = {"size": {"dtype": "float"}, "colour": {"dtype": "str"}, "label": label}
    (workdir / "contract.yaml").write_text(yaml.safe_dump({"columns": columns}))
    model = fit(frame, contract, LINEAR[params.task])
    MODEL_FILE.parent.mkdir(parents=True)
    save_model(model, MODEL_FILE)
    TEST_SPLIT.parent.mkdir(parents=True)
    frame.to_parquet(TEST_SPLIT)
    assert package.check_fast_path().startswith("compiled, equal to the pipeline")
    model[0].named_transformers_["numeric"]["scale"].mean_ += 1e-6  # a compiler bug's effect
    compile_features = package.compile_features

    def skewed(_model, contract):  # compiles the skewed model, verified against the saved one
        return compile_features(model, contract)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(package, "compile_features", skewed)
        with pytest.raises(RegistryError, match=r"the fast path .* predicts .* differently"):
            package.check_fast_path()


def test_a_logistic_regression_reads_its_class_from_its_probabilities_ties_from_predict():
    """One predict_proba call gives the class `predict` gives, also where the probabilities tie
    while the decision score does not (a score of 1e-20 is positive: class 1; expit rounds it
    to 0.5 for both classes, where argmax would say class 0)."""
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(200, 3))
    for classes in (2, 3):
        target = rng.integers(0, classes, 200)
        model = LogisticRegression().fit(inputs, target)
        predictions, probabilities = estimator_outputs(model, inputs, classification=True)
        np.testing.assert_array_equal(predictions, model.predict(inputs))
        np.testing.assert_array_equal(probabilities, model.predict_proba(inputs))
    binary = LogisticRegression().fit(inputs, inputs[:, 0] > 0)
    binary.coef_[:] = 0.0
    binary.intercept_[:] = 1e-20
    predictions, probabilities = estimator_outputs(binary, inputs[:2], classification=True)
    assert probabilities[0, 0] == probabilities[0, 1]
    assert predictions.tolist() == binary.predict(inputs[:2]).tolist() == [True, True]
