"""Overlap: which of the candidate's test rows the champion was trained on.

When the split params (`split.seed`, `test_size`, `stratify`) or the raw data changed since the
champion was trained, some of today's test rows may be rows the champion learnt: scored on them
it looks better than it is, and a neutral retrain looks worse (a false block waiting for a
flexible champion). The champion's split is read from its commit (params.yaml, and the raw
data's MD5 in dvc.lock); with the same data, its training rows are found again by splitting
today's raw data with its params, and the paired comparison keeps the test rows neither model
was trained on. With other data they cannot be found: the gate says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from actions_mlops.core.config import PARAMS_FILE, Params, SplitParams
from actions_mlops.core.git import show_file
from actions_mlops.core.typed import ConfigError, parse_yaml
from actions_mlops.data.contract import Contract
from actions_mlops.data.split import split
from actions_mlops.data.tables import read_table
from actions_mlops.release.champion import Champion
from actions_mlops.release.fingerprint import md5

LOCK_FILE = Path("dvc.lock")


@dataclass(frozen=True)
class Overlap:
    """How the champion's split compares with the candidate's, and the test rows to compare on
    (`unseen`: a mask over the test split; None: every row)."""

    changed: bool | None  # None: unknown (the champion's split or data cannot be read)
    reason: str
    unseen: np.ndarray | None = None

    def report(self, test_rows: int) -> dict[str, Any]:
        """What gate.json records."""
        compared = test_rows if self.unseen is None else int(self.unseen.sum())
        return {"changed": self.changed, "reason": self.reason, "compared_rows": compared}


def _champion_split(champion: Champion) -> tuple[SplitParams, str, str | None] | None:
    """(split params, raw data path, the raw data's MD5 in dvc.lock) at the champion's commit;
    None when its params.yaml cannot be read."""
    text = show_file(champion.commit, PARAMS_FILE)
    if not text:
        return None
    try:
        recorded = parse_yaml(text, f"{champion.commit[:7]}:{PARAMS_FILE}")
        settings = SplitParams.model_validate(recorded["split"])
        raw = str(recorded["data"]["raw"])
    except (ConfigError, ValidationError, KeyError, TypeError):
        return None
    lock = show_file(champion.commit, LOCK_FILE)
    digest = None
    if lock:
        try:
            deps = parse_yaml(lock, "dvc.lock")["stages"]["split"]["deps"]
            digest = next((d.get("md5") for d in deps if d.get("path") == raw), None)
        except (ConfigError, KeyError, TypeError):
            digest = None
    return settings, raw, digest


def find_overlap(params: Params, contract: Contract, champion: Champion, test_rows: int) -> Overlap:
    """The champion's split against today's, and the test rows neither model was trained on."""
    found = _champion_split(champion)
    if found is None:
        return Overlap(
            None,
            f"the champion's params.yaml cannot be read at {champion.commit[:7]}: if its split "
            "differed, it may have been trained on some test rows (the comparison favours it)",
        )
    settings, raw, digest = found
    current = md5(params.data.raw) if params.data.raw.exists() else None
    same_data = digest is not None and digest == current and raw == params.data.raw.as_posix()
    if not same_data:
        return Overlap(
            None if digest is None else True,
            f"the raw data differs from the champion's ({raw}, MD5 {digest or 'unknown'} → "
            f"{params.data.raw.as_posix()}, MD5 {current or 'missing'}): which test rows it "
            "was trained on cannot be told, and any it was favour it in the comparison",
        )
    if settings == params.split:
        return Overlap(False, "same data and split as the champion: no test row was trained on")
    frame = read_table(params.data.raw, contract, only_contract=True)
    _, test = split(frame, contract, params.split)
    trained, _ = split(frame, contract, settings)
    if len(test) != test_rows:
        return Overlap(
            None,
            f"the split changed ({_changed(settings, params.split)}) but today's test split "
            f"has {test_rows} rows, not the {len(test)} splitting data.raw gives: run make repro",
        )
    unseen = ~test.index.isin(trained.index)
    return Overlap(
        True,
        f"the split changed since the champion ({_changed(settings, params.split)}): "
        f"{int((~unseen).sum())} of {test_rows} test rows are rows the champion was trained on; "
        f"the comparison uses the {int(unseen.sum())} neither model was trained on",
        unseen,
    )


def _changed(before: SplitParams, after: SplitParams) -> str:
    """The split params that differ, as `name a → b`."""
    old, new = before.model_dump(), after.model_dump()
    return ", ".join(f"split.{k} {old[k]} → {new[k]}" for k in old if old[k] != new[k])
