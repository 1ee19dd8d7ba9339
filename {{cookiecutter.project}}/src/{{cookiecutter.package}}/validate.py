"""Validate: check the raw data against contract.yaml before anything trains on it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from {{ cookiecutter.package }}.config import (
    RAW_DATA,
    VALIDATION_REPORT,
)
from {{ cookiecutter.package }}.contract import (
    Contract,
    load_contract,
    read_table,
)


def find_problems(path: Path, contract: Contract) -> list[str]:
    """Every violation found, one line each (empty when the data is valid)."""
    if not path.exists():
        return [f"{path}: file not found"]
    try:
        frame = read_table(path, contract)
    except (ValueError, pd.errors.ParserError) as error:
        return [f"{path}: cannot be read: {error}"]
    problems = [
        f"column {name!r}: missing (contract.yaml expects it)"
        for name in contract.columns
        if name not in frame.columns
    ]
    min_rows = int(contract.table.get("min_rows", 1))
    if len(frame) < min_rows:
        problems.append(f"table: {len(frame)} rows, the contract needs at least {min_rows}")
    return problems


def main() -> int:
    """CLI entry: write reports/validation.json; exit 1 on any violation."""
    problems = find_problems(RAW_DATA, load_contract())
    VALIDATION_REPORT.parent.mkdir(parents=True, exist_ok=True)
    report = {"data": str(RAW_DATA), "valid": not problems, "problems": problems}
    VALIDATION_REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for problem in problems:
        print(f"validate: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"validate: {RAW_DATA} passes contract.yaml")
    return 0
