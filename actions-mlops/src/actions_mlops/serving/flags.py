"""Out-of-contract values: a number outside its column's `range`, a value not among its
`allowed_values` (contract.yaml). The request schema checks types only, so such a record is still
predicted; the service flags each value in its answer and in the prediction log, and
`make monitor` counts them per column. A flag does not repeat the value, nor list the allowed
values of a `pii: true` column: personal data stays masked in the log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from actions_mlops.data.contract import Column, Contract

SHOWN_VALUES = 10  # a flag lists the allowed values up to this many


class Flag(BaseModel):
    """One value of a record outside the contract."""

    column: str
    check: Literal["range", "allowed_values"] = Field(description="the contract's rule")
    msg: str


def column_flag(column: Column, value: Any) -> Flag | None:
    """The flag of one value of `column`, or None: within the contract, or missing."""
    if value is None:
        return None
    low, high = column.range or (None, None)
    if column.is_numeric and low is not None and value < low:
        return Flag(column=column.name, check="range", msg=f"below the contract's minimum {low}")
    if column.is_numeric and high is not None and value > high:
        return Flag(column=column.name, check="range", msg=f"above the contract's maximum {high}")
    allowed = column.allowed_values
    if allowed is not None and (value if column.is_numeric else str(value)) not in allowed:
        shown = ", ".join(map(repr, allowed[:SHOWN_VALUES]))
        more = f" and {len(allowed) - SHOWN_VALUES} more" if len(allowed) > SHOWN_VALUES else ""
        listed = f"{len(allowed)} (pii: not listed)" if column.pii else f"({shown}{more})"
        message = f"not one of the contract's allowed values {listed}"
        return Flag(column=column.name, check="allowed_values", msg=message)
    return None


def record_flags(record: Mapping[str, Any], contract: Contract) -> list[Flag]:
    """The flags of one record's values, in the record's column order."""
    found = (
        column_flag(contract.columns[name], value)
        for name, value in record.items()
        if name in contract.columns
    )
    return [flag for flag in found if flag is not None]
