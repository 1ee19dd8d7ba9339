"""`make setup` writes the settings files' JSON Schemas to .schemas/ (not committed: they follow
the installed actions-mlops), where editors find them through the first line of params.yaml
and contract.yaml (`# yaml-language-server: $schema=.schemas/params.schema.json`) and
check-jsonschema reads them. The pydantic models are their only source."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from actions_mlops.core.config import Params
from actions_mlops.core.typed import json_schema
from actions_mlops.data.contract import Contract

SCHEMA_DIR = Path(".schemas")


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for each settings file the project holds."""
    return {
        "params.schema.json": json_schema(Params, "params.yaml"),
        "contract.schema.json": json_schema(Contract, "contract.yaml"),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The folder to write to."""
    parser.add_argument("--out", type=Path, default=SCHEMA_DIR, help="folder (default .schemas)")


def main(args: argparse.Namespace) -> int:
    """Write each schema, replacing what an older version wrote."""
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas().items():
        text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"json-schema: {', '.join(schemas())} written to {args.out}/")
    return 0
