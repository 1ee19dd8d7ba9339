import pytest

from actions_mlops.data.ingest import ingest
from actions_mlops.data.tables import (
    read_table,
)


@pytest.mark.parametrize("name", ["raw.csv", "raw.parquet"])
def test_ingest_writes_the_example_with_its_target(params, contract, tmp_path, name):
    if params.data.source is None:
        pytest.skip("`make adopt` replaced the example (no data.source)")
    path = ingest(params.data.source, tmp_path / name)
    frame = read_table(path, contract)
    assert list(frame.columns) == list(contract.columns)
    assert len(frame) > 100
    assert frame[contract.target].notna().all()


def test_ingest_rejects_an_unknown_source(tmp_path):
    with pytest.raises(ValueError, match="sklearn:<name>"):
        ingest("http://example.com/data.csv", tmp_path / "raw.csv")
