"""The `predict` step (`make predict DATA=... [VERSION=|STAGE=] [OUT=] [SPARK=]`): which
registered version scores, its model file verified against the version's tag, its contract,
then the table scored in process (predict.py) or on Spark (spark.py, with `--spark`)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from actions_mlops.core.config import CONTRACT_FILE, MODEL_FILE, load_params
from actions_mlops.core.errors import StepError
from actions_mlops.core.git import show_file
from actions_mlops.core.modelfile import file_hash, load_model, recorded_hash
from actions_mlops.core.typed import parse_yaml
from actions_mlops.data.contract import Contract, load_contract, parse_contract
from actions_mlops.release.champion import Champion, fetch_model
from actions_mlops.release.predict import CHUNK_ROWS, OUTPUT_DIR, Scorer, predict
from actions_mlops.release.versions import Version, versions


def choose_version(
    model: str, version: str | None, stage: str | None, champion_stage: str
) -> tuple[Version, str]:
    """The version to score with, and how it was chosen: VERSION, else STAGE's holder, else
    the champion (champion_stage's holder, else the latest version)."""
    if version and stage:
        raise StepError(f"give a version ({version}) or a stage ({stage}), not both")
    registered = versions(model)
    if not registered:
        raise StepError(f"{model} has no registered version yet: `make register` first")
    if version:
        found = next((v for v in registered if v.version == version), None)
        if found is None:
            known = ", ".join(v.version for v in registered)
            raise StepError(f"{model} has no version {version!r}; registered: {known}")
        return found, f"version {version}"
    holder = next((v for v in registered if (stage or champion_stage) in v.stages), None)
    if stage:
        if holder is None:
            raise StepError(f"no version of {model} is in stage {stage!r} (`make versions`)")
        return holder, f"stage {stage}"
    if holder is not None:
        return holder, f"stage {champion_stage}"
    return registered[0], "latest version"


def verified_model(entry: Version, folder: Path) -> tuple[Path, str]:
    """The version's model file and where it came from: the workspace's when its hash is the
    one the version's tag records, else fetched and checked (ModelFileError otherwise)."""
    recorded = recorded_hash(entry.message)
    here = recorded is not None and MODEL_FILE.is_file()
    if here and recorded and file_hash(MODEL_FILE, recorded.algorithm) == recorded.digest:
        return MODEL_FILE, f"{MODEL_FILE} ({recorded.algorithm} as registered)"
    path = folder / MODEL_FILE.name
    source, reason = fetch_model(Champion(entry.model, entry.version, entry.commit), path)
    if source is None:
        raise StepError(f"the model file of {entry.tag} cannot be had: {reason}")
    return path, source


def version_contract(entry: Version) -> Contract:
    """The contract registered with the version (contract.yaml at its commit)."""
    text = show_file(entry.commit, CONTRACT_FILE)
    if text is None:
        raise StepError(f"{entry.tag}'s commit has no {CONTRACT_FILE}")
    where = f"{CONTRACT_FILE} at {entry.tag}"
    return parse_contract(parse_yaml(text, where), where)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `predict`."""
    parser.add_argument("--data", required=True, help="CSV/Parquet file or folder of parts")
    parser.add_argument("--version", help="registered version, e.g. v1.2.0")
    parser.add_argument("--stage", help="the version holding this stage, e.g. prod")
    parser.add_argument("--out", type=Path, help="the Parquet file to write")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows per chunk")
    parser.add_argument(
        "--spark",
        default=os.environ.get("SPARK_MASTER") or None,
        help="score on Spark: its master URL, e.g. local[2] or spark://host:7077 "
        "(default: $SPARK_MASTER; none: in process)",
    )


def main(args: argparse.Namespace) -> int:
    """CLI entry: score the table; one summary line."""
    if not args.data:
        raise StepError("DATA is empty: name a CSV or Parquet file, or a folder of parts")
    if args.chunk_rows < 1:
        raise StepError(f"--chunk-rows {args.chunk_rows}: a whole number >= 1")
    data = Path(args.data)
    registry = load_params().registry
    entry, chosen = choose_version(
        registry.model, args.version, args.stage, registry.champion_stage
    )
    key = list(load_contract().table.key)
    out = args.out or OUTPUT_DIR / f"{data.stem or 'batch'}-{entry.version}.parquet"
    with tempfile.TemporaryDirectory(prefix="predict-") as folder:
        path, source = verified_model(entry, Path(folder))
        scorer = Scorer(entry.version, load_model(path), version_contract(entry), key)
        if scorer.fallback is not None:
            print(f"predict: preprocessing: the pipeline's ({scorer.fallback})", file=sys.stderr)
        started = time.perf_counter()
        if args.spark:
            from actions_mlops.release.spark import predict_spark  # pyspark: an extra

            counts = predict_spark(data, out, scorer, path, args.spark)
            source += f"; on Spark {args.spark}"
        else:
            counts = predict(data, out, scorer, args.chunk_rows)
    rate = counts.rows / max(time.perf_counter() - started, 1e-9)
    print(
        f"predict: {counts.rows} rows of {data} with {entry.tag} ({chosen}; model from "
        f"{source}): {counts.scored} scored, {counts.flagged} flagged outside the contract "
        f"({counts.refused} not scored), {rate:,.0f} rows/s -> {out}"
    )
    return 0
