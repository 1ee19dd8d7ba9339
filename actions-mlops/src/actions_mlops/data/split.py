"""Split: divide the validated raw data into train and test sets (Parquet keeps the dtypes).
Only the contract's columns are kept: the stages after this one read nothing else."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split

from actions_mlops.core.config import (
    TEST_SPLIT,
    TRAIN_SPLIT,
    SplitParams,
    load_params,
)
from actions_mlops.core.outputs import replacing
from actions_mlops.data.contract import (
    Contract,
    load_contract,
)
from actions_mlops.data.tables import (
    read_table,
)


def split(
    frame: pd.DataFrame, contract: Contract, params: SplitParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded train/test split, stratified on the target when params ask for it."""
    stratify = frame[contract.target] if params.stratify else None
    train, test = train_test_split(
        frame, test_size=params.test_size, random_state=params.seed, stratify=stratify
    )
    return train, test


def main() -> int:
    """CLI entry: write data/split/train.parquet and data/split/test.parquet."""
    contract, params = load_contract(), load_params()
    frame = read_table(params.data.raw, contract, only_contract=True)
    train, test = split(frame, contract, params.split)
    with replacing(TRAIN_SPLIT) as train_file, replacing(TEST_SPLIT) as test_file:
        train.to_parquet(train_file, index=False)
        test.to_parquet(test_file, index=False)
    print(f"split: {len(train)} train rows, {len(test)} test rows")
    return 0
