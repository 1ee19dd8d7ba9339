import numpy as np
import pytest

from actions_mlops.core.config import ModelParams, OneHotParams
from actions_mlops.core.modelfile import load_model, save_model
from actions_mlops.data.features import training_input
from actions_mlops.training.train import build_model


@pytest.fixture
def fitted(params, messy):
    """A model fitted on the messy data set, with that data and its contract."""
    frame, contract = messy(params.task)
    model = build_model(
        contract, ModelParams(estimator=params.model.estimator, params=params.model.params)
    )
    model.fit(frame[contract.features], frame[contract.target])
    return model, frame, contract


def test_trains_on_missing_values_and_string_categories(params, fitted):
    model, frame, contract = fitted
    predictions = model.predict(frame[contract.features])
    assert len(predictions) == len(frame)
    if params.task == "classification":
        assert (predictions == frame[contract.target]).mean() > 0.7
    else:
        assert np.corrcoef(predictions, frame[contract.target])[0, 1] > 0.7


def test_training_is_deterministic(params, fitted):
    first, frame, contract = fitted
    second = build_model(
        contract, ModelParams(estimator=params.model.estimator, params=params.model.params)
    )
    second.fit(frame[contract.features], frame[contract.target])
    features = frame[contract.features]
    np.testing.assert_array_equal(first.predict(features), second.predict(features))


def test_skops_round_trip_keeps_predictions(fitted, tmp_path):
    model, frame, contract = fitted
    save_model(model, tmp_path / "model.skops")
    loaded = load_model(tmp_path / "model.skops")
    features = frame[contract.features]
    np.testing.assert_array_equal(model.predict(features), loaded.predict(features))


def test_the_same_model_is_saved_as_the_same_bytes(params, fitted, tmp_path):
    """skops names arrays by memory address; a refit (new objects) must still give equal bytes,
    or every re-run of the pipeline would change dvc.lock."""
    first, frame, contract = fitted
    second = build_model(
        contract, ModelParams(estimator=params.model.estimator, params=params.model.params)
    )
    second.fit(frame[contract.features], frame[contract.target])
    save_model(first, tmp_path / "first.skops")
    save_model(second, tmp_path / "second.skops")
    assert (tmp_path / "first.skops").read_bytes() == (tmp_path / "second.skops").read_bytes()


def test_categories_as_pandas_categories_fit_the_same_model(params, messy, tmp_path):
    """training_input only changes how text is held in memory: the saved model is the same."""
    frame, contract = messy(params.task)
    inputs = {"text": frame[contract.features], "category": training_input(frame, contract)}
    assert (inputs["category"].dtypes == "category").sum() == len(contract.categorical_features)
    for name, features in inputs.items():
        model = build_model(
            contract, ModelParams(estimator=params.model.estimator, params=params.model.params)
        )
        save_model(model.fit(features, frame[contract.target]), tmp_path / f"{name}.skops")
    assert (tmp_path / "text.skops").read_bytes() == (tmp_path / "category.skops").read_bytes()


def test_one_hot_encoding_is_capped_by_params(params, messy):
    """A text column with 300 distinct values makes at most max_categories model inputs; rare
    values share the infrequent column, and so does a value first seen in serving."""
    frame, contract = messy(params.task)
    column = contract.categorical_features[0]
    frame[column] = [f"value {i % 300}" for i in range(len(frame))]
    caps = OneHotParams(max_categories=10, min_frequency=2)
    model = build_model(
        contract,
        ModelParams(estimator=params.model.estimator, params=params.model.params, one_hot=caps),
    )
    model.fit(frame[contract.features], frame[contract.target])
    encoded = [n for n in model[:-1].get_feature_names_out() if n.startswith(f"{column}_")]
    assert len(encoded) <= 10 and f"{column}_infrequent_sklearn" in encoded
    unseen = frame[contract.features].head(1).assign(**{column: "never seen"})
    assert len(model.predict(unseen)) == 1
    uncapped = build_model(
        contract, ModelParams(estimator=params.model.estimator, params=params.model.params)
    )
    uncapped.fit(frame[contract.features], frame[contract.target])
    assert sum(n.startswith(f"{column}_") for n in uncapped[:-1].get_feature_names_out()) == 300
