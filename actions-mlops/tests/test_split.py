from actions_mlops.core.config import SplitParams
from actions_mlops.data.split import split


def test_split_is_seeded_and_sized(params, messy):
    frame, contract = messy(params.task)
    settings = SplitParams(test_size=0.25, seed=3, stratify=params.task == "classification")
    train, test = split(frame, contract, settings)
    again, _ = split(frame, contract, settings)
    assert len(test) == 100 and len(train) == 300
    assert train.index.equals(again.index)
    assert set(train.index).isdisjoint(test.index)
