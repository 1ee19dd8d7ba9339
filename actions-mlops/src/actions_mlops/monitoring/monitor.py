"""Monitor: drift of a batch of production inputs (by default the service's prediction log)
against the champion's reference profile, its values outside the contract per column, and its
performance when labels are given; reports/monitor.json and reports/monitor.md.

Outcomes: `verdict` in reports/monitor.json is ok, warn, alarm or error (the monitor could
not measure: `error` says why; the reports of an earlier run are removed first, so they never
stand for this one), and the last line on stdout is `monitor: <verdict> ...`. Exit codes: 0 ok,
2 warn, 3 alarm, 1 an error (2 also for invalid settings: the CLI's code for them). Through
make, whose own status is 2 for any failure, a script reads the verdict.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from actions_mlops.core.config import (
    MONITOR_FILE,
    MONITOR_MARKDOWN,
    PROFILE_FILE,
    Params,
    load_params,
    log_folder,
)
from actions_mlops.core.markdown import inert
from actions_mlops.data.contract import (
    Contract,
    load_contract,
)
from actions_mlops.data.tables import (
    read_table,
)
from actions_mlops.monitoring import drift
from actions_mlops.monitoring.reference import committed_profile
from actions_mlops.release.champion import (
    Champion,
    find_champion,
    recorded_metrics,
)
from actions_mlops.serving.flags import column_flag
from actions_mlops.serving.predictionlog import read_log
from actions_mlops.training.metrics import (
    Predictions,
    direction,
    score,
)

EXIT_CODES = {"ok": 0, "warn": 2, "alarm": 3}
LABEL_METRICS = {
    "classification": ["accuracy", "balanced_accuracy", "f1_macro"],
    "regression": ["rmse", "mae", "r2"],
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m actions_mlops monitor`."""
    parser.add_argument(
        "--batch",
        type=Path,
        help="prediction log (.jsonl or a folder of them), `predict`'s output or a CSV/Parquet "
        "file of inputs "
        "(default: the service's log, params monitor.log_dir; data.raw while it is empty)",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        help="CSV with the target and request_id[, record] (the log) or table.key (make predict)",
    )


def default_batch(params: Params) -> Path:
    """The project's prediction log, where `make serve` writes it, while it holds any file;
    else the raw data (params data.raw), with a line on stderr saying so."""
    folder = log_folder(params.monitor.log_dir)
    if folder.is_dir() and any(folder.glob("*.jsonl")):
        return folder
    print(f"monitor: no prediction log in {folder}: reading {params.data.raw}", file=sys.stderr)
    return params.data.raw


def load_batch(path: Path, contract: Contract) -> tuple[pd.DataFrame, list[str]]:
    """The batch's rows, from a prediction log, batch predictions (`make predict`) or a data
    file, and the log's unreadable lines (skipped). Predictions, logged or batch, hold `pii`
    columns masked, so those are left out of the comparison."""
    bad_lines: list[str] = []
    if path.is_dir() or path.suffix == ".jsonl":
        logged = read_log(path)
        batch, bad_lines = logged.frame, logged.bad_lines
    else:
        batch = read_table(path, contract)
    if {"prediction", "model_version"} <= set(batch.columns):
        masked = [name for name, column in contract.columns.items() if column.pii]
        batch = batch.drop(columns=masked, errors="ignore")
    return batch, bad_lines


def _right_type(value: Any, numeric: bool) -> bool:
    """Whether a logged value can be the column's: a number (numeric) or any scalar, or null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    if numeric:
        return isinstance(value, int | float | np.number) and not isinstance(value, bool)
    return isinstance(value, str | int | float | bool | np.number)


def wrong_types(batch: pd.DataFrame, contract: Contract) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The batch with each value of the wrong type for its column (text or a list where the
    contract wants a number, a list or an object anywhere) made null, and per column how many
    there were and an example: the service refuses them, so only an edited or foreign log has
    them, and they must not count as drift nor stop the monitor."""
    found: dict[str, Any] = {}
    cleaned = batch
    for name in contract.features:
        if name not in batch.columns or batch[name].dtype != object:
            continue  # read as numbers or booleans by pandas: every value has one type
        numeric = contract.columns[name].is_numeric
        wrong = ~batch[name].map(partial(_right_type, numeric=numeric)).astype(bool)
        if wrong.any():
            example = batch.loc[wrong, name].iloc[0]
            found[name] = {"values": int(wrong.sum()), "example": repr(example)[:80]}
            if cleaned is batch:
                cleaned = batch.copy()
            cleaned[name] = batch[name].where(~wrong, None)
            if numeric:
                cleaned[name] = pd.to_numeric(cleaned[name])
    return cleaned, found


def out_of_contract(batch: pd.DataFrame, contract: Contract) -> dict[str, Any]:
    """Values outside the contract's range or allowed values: how many rows have any, and a count
    per column and check. A prediction log's rows carry the flags the service gave them (its
    `warnings`); a data file's values are checked here, by the same rule (serving/flags.py)."""
    counts: dict[str, dict[str, int]] = {}
    if "warnings" in batch.columns:  # a list per row (log) or an array (Parquet, make predict)
        flagged = 0
        for flags in batch["warnings"]:  # no copy per row: a log's rows share their lists
            if not isinstance(flags, list | np.ndarray) or not len(flags):
                continue
            flagged += 1
            for flag in flags:
                column = counts.setdefault(flag["column"], {})
                column[flag["check"]] = column.get(flag["check"], 0) + 1
        return {"rows": flagged, "columns": counts}
    outside = pd.Series(False, index=batch.index)
    for name in contract.features:
        if name not in batch.columns:
            continue
        values = batch[name].astype(object).where(batch[name].notna(), None)
        found = {value: column_flag(contract.columns[name], value) for value in values.unique()}
        checks = values.map({value: flag.check for value, flag in found.items() if flag})
        for check, count in checks.value_counts().items():
            counts.setdefault(name, {})[str(check)] = int(count)
        outside |= checks.notna()
    return {"rows": int(outside.sum()), "columns": counts}


def reference_profile(champion: Champion | None) -> tuple[dict[str, Any], str]:
    """The production model's committed profile, else the working copy's (a local run)."""
    committed = committed_profile(champion.tag if champion else None)
    if committed is not None:
        return committed
    if PROFILE_FILE.exists():
        return json.loads(PROFILE_FILE.read_text(encoding="utf-8")), str(PROFILE_FILE)
    raise FileNotFoundError("no reference profile: run make repro (the profile stage) first")


def performance(
    batch: pd.DataFrame, labels: pd.DataFrame, contract: Contract, task: str
) -> dict[str, Any]:
    """Metrics of the logged predictions against labels joined by request id (and record)."""
    keys = [k for k in ("request_id", "record") if k in labels.columns and k in batch.columns]
    if "request_id" not in keys:  # batch predictions: joined by the contract's row key
        keys = list(contract.table.key)
        if not keys or not set(keys) <= set(labels.columns) & set(batch.columns):
            raise ValueError(
                "the labels file needs a request_id column to join the prediction log, or the "
                f"columns of contract.yaml table.key ({', '.join(keys) or 'not set'}) to join "
                "batch predictions"
            )
        batch = batch.astype(dict.fromkeys(keys, "str"))
        labels = labels.astype(dict.fromkeys(keys, "str"))
    scored = batch[batch["prediction"].notna()]  # make predict's refused rows: no prediction
    joined = scored.merge(labels[[*keys, contract.target]], on=keys, how="inner")
    if joined.empty:
        raise ValueError("no labelled row matches the predictions")
    truth, predicted = joined[contract.target], joined["prediction"]
    if task == "classification":
        classes = sorted(set(map(str, truth)) | set(map(str, predicted)))
        index = {label: i for i, label in enumerate(classes)}
        results = Predictions(
            np.array([index[str(t)] for t in truth]), np.array([index[str(p)] for p in predicted])
        )
    else:
        results = Predictions(truth.to_numpy(dtype=float), predicted.to_numpy(dtype=float))
    values = {name: float(score(name, results)[0]) for name in LABEL_METRICS[task]}
    return {"labelled_rows": len(joined), "metrics": values}


def performance_checks(
    measured: dict[str, float], champion: dict[str, Any] | None, tolerance: float
) -> list[dict[str, Any]]:
    """Each measured metric against the champion's test-set value: alarm beyond `tolerance`."""
    checks = []
    for name, value in measured.items():
        recorded = ((champion or {}).get("metrics") or {}).get(name, {}).get("value")
        if recorded is None or not math.isfinite(value):
            continue
        drop = recorded - value if direction(name) == "higher" else value - recorded
        checks.append(
            {
                "metric": name,
                "value": value,
                "champion": recorded,
                "drop": drop,
                "alarm": drop > tolerance,
            }
        )
    return checks


Z95 = 1.959964  # the normal quantile of a 95% interval
MIN_CONFIDENT_ROWS = 30  # fewer logged probabilities than this: no estimate


def estimated_performance(
    batch: pd.DataFrame, task: str, champion: dict[str, Any] | None, tolerance: float
) -> dict[str, Any]:
    """Accuracy estimated without labels from the model's own confidence (confidence-based
    performance estimation, as NannyML's CBPE): a calibrated classifier is right on a record
    with probability equal to its largest class probability, so the batch's expected accuracy
    is their mean, with a 95% interval from the Bernoulli variance of each record. It alarms
    when the whole interval lies more than `tolerance` below the champion's test-set accuracy.
    The estimate is only as good as the model's calibration. Regression has none: a model's
    errors cannot be read from its predictions without labels (NannyML's DLE trains a second
    model for that; not built here): drift and out-of-range inputs are its label-free signal."""
    if task != "classification":
        return {"metric": None, "reason": "regression: no label-free estimate (see the docs)"}
    if "confidence" not in batch.columns:
        return {"metric": None, "reason": "the batch has no logged probabilities"}
    confidence = pd.to_numeric(batch["confidence"], errors="coerce").to_numpy(dtype=float)
    confidence = confidence[(confidence >= 0) & (confidence <= 1)]
    if len(confidence) < MIN_CONFIDENT_ROWS:
        return {"metric": None, "reason": f"{len(confidence)} logged probabilities, too few"}
    estimate = float(confidence.mean())
    margin = Z95 * float(np.sqrt(np.sum(confidence * (1 - confidence)))) / len(confidence)
    low, high = max(0.0, estimate - margin), min(1.0, estimate + margin)
    recorded = ((champion or {}).get("metrics") or {}).get("accuracy", {}).get("value")
    result: dict[str, Any] = {
        "metric": "accuracy",
        "method": "confidence-based (mean of the largest class probability)",
        "rows": len(confidence),
        "estimate": estimate,
        "interval": [low, high],
        "champion": recorded,
        "tolerance": tolerance,
    }
    if recorded is not None:
        result["drop"] = float(recorded) - estimate
        result["alarm"] = bool(high < float(recorded) - tolerance)
    return result


def markdown(report: dict[str, Any]) -> str:
    """The monitoring report: verdict, drifting columns, performance."""
    icon = {"ok": "✅", "warn": "⚠️", "alarm": "🚨"}[report["verdict"]]
    lines = [
        f"## Model monitoring: {icon} {report['verdict'].upper()}",
        "",
        f"Batch {inert(report['batch'], table=False)} ({report['rows']} rows) against "
        f"{inert(report['reference'], table=False)}.",
        "",
    ]
    if report.get("skipped_lines"):
        lines += [
            f"⚠️ {report['skipped_lines']} unreadable log lines skipped (a write cut short, e.g. "
            f"by a full disk), first at {inert(report['first_skipped'], table=False)}.",
            "",
        ]
    lines.append(drift.markdown(report["drift"]).strip())
    wrong = report.get("wrong_types") or {}
    if wrong:
        lines += [
            "",
            "### Values of the wrong type (left out of the comparison)",
            "",
            "| column | values | example |",
            "|---|---|---|",
        ]
        lines += [
            f"| {inert(column)} | {found['values']} | {inert(found['example'])} |"
            for column, found in sorted(wrong.items())
        ]
    outside = report.get("out_of_contract") or {"rows": 0, "columns": {}}
    if outside["rows"]:
        lines += [
            "",
            f"### Values outside the contract ({outside['rows']} of {report['rows']} rows)",
            "",
            "| column | check | values |",
            "|---|---|---|",
        ]
        lines += [
            f"| {inert(column)} | {inert(check)} | {count} |"
            for column, checks in sorted(outside["columns"].items())
            for check, count in sorted(checks.items())
        ]
    estimated = report.get("estimated_performance") or {}
    if estimated.get("metric"):
        low, high = estimated["interval"]
        champion = estimated.get("champion")
        against = (
            ""
            if champion is None
            else (
                f" vs the champion's {champion:.4f} on its test set (drop "
                f"{estimated['drop']:+.4f}; alarm when the whole interval is more than "
                f"{estimated['tolerance']:g} below it)"
            )
        )
        icon = "🚨" if estimated.get("alarm") else "✅"
        lines += [
            "",
            "### Estimated performance (no labels)",
            "",
            f"{icon} `{estimated['metric']}` about {estimated['estimate']:.4f} (95% interval "
            f"{low:.4f} to {high:.4f}, {estimated['rows']} records){against}. Estimated from the "
            "model's own probabilities: as good as its calibration.",
        ]
    checks = report.get("performance", {}).get("checks")
    if checks:
        lines += [
            "",
            "### Performance on labelled requests",
            "",
            "| metric | production | champion (test set) | drop | |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| `{c['metric']}` | {c['value']:.4f} | {c['champion']:.4f} | {c['drop']:+.4f} "
            f"| {'🚨' if c['alarm'] else '✅'} |"
            for c in checks
        ]
    return "\n".join(lines) + "\n"


def assess(
    batch: pd.DataFrame,
    profile: dict[str, Any],
    params: Params,
    contract: Contract,
    labels: pd.DataFrame | None = None,
    champion_metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Verdict, drift and (with labels) performance of one batch."""
    batch, wrong = wrong_types(batch, contract)
    drift_report = drift.compare(batch, profile, params.drift)
    verdict = {"ok": "ok", "warn": "warn", "fail": "alarm"}[drift_report["verdict"]]
    report: dict[str, Any] = {
        "rows": len(batch),
        "drift": drift_report,
        "out_of_contract": out_of_contract(batch, contract),
        "wrong_types": wrong,
    }
    tolerance = params.monitor.performance_tolerance
    estimated = estimated_performance(batch, params.task, champion_metrics, tolerance)
    report["estimated_performance"] = estimated
    if estimated.get("alarm"):
        verdict = "alarm"
    if labels is not None:
        measured = performance(batch, labels, contract, params.task)
        checks = performance_checks(measured["metrics"], champion_metrics, tolerance)
        report["performance"] = measured | {"tolerance": tolerance, "checks": checks}
        if any(check["alarm"] for check in checks):
            verdict = "alarm"
    return {"verdict": verdict} | report


def error_report(reason: str) -> None:
    """The reports of a run that could not measure: verdict `error` and why."""
    report = {"verdict": "error", "error": reason}
    MONITOR_FILE.parent.mkdir(parents=True, exist_ok=True)
    MONITOR_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    MONITOR_MARKDOWN.write_text(
        f"## Model monitoring: ❌ ERROR\n\nNothing was measured: {inert(reason, table=False)}\n",
        encoding="utf-8",
    )
    print("monitor: error (nothing measured; reports in reports/monitor.md)")


def main(args: argparse.Namespace) -> int:
    """CLI entry: write the monitoring reports; exit 0 ok, 2 warn, 3 alarm, 1 error."""
    for stale in (MONITOR_FILE, MONITOR_MARKDOWN):  # an old verdict never stands for this run
        stale.unlink(missing_ok=True)
    try:
        return measure(args)
    except Exception as error:  # settings, profile, labels, a bug: still one verdict to read
        reason = " ".join(str(error).split()) or type(error).__name__
        error_report(f"{type(error).__name__}: {reason}"[:500])
        raise


def measure(args: argparse.Namespace) -> int:
    """The monitor's run (see main)."""
    params, contract = load_params(), load_contract()
    batch_path = args.batch or default_batch(params)
    try:
        batch, bad_lines = load_batch(batch_path, contract)
    except (OSError, ValueError) as error:
        print(f"monitor: cannot read the batch: {error}", file=sys.stderr)
        error_report(f"cannot read the batch: {' '.join(str(error).split())}"[:500])
        return 1
    if bad_lines:
        print(
            f"monitor: skipped {len(bad_lines)} unreadable log lines, first at {bad_lines[0]}",
            file=sys.stderr,
        )
    champion = find_champion(params.registry.model, params.registry.champion_stage)
    profile, source = reference_profile(champion)
    labels = pd.read_csv(args.labels) if args.labels else None
    champion_metrics = recorded_metrics(champion) if champion else None
    report = assess(batch, profile, params, contract, labels, champion_metrics)
    report |= {"batch": str(batch_path), "reference": source, "skipped_lines": len(bad_lines)}
    if bad_lines:
        report["first_skipped"] = bad_lines[0]
    MONITOR_FILE.parent.mkdir(parents=True, exist_ok=True)
    MONITOR_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    MONITOR_MARKDOWN.write_text(markdown(report), encoding="utf-8")
    for row in report["drift"]["columns"]:
        if row["drifted"]:
            print(f"monitor: {row['column']} drifted: {row['detail']}", file=sys.stderr)
    for column, found in report["wrong_types"].items():
        print(
            f"monitor: {column}: {found['values']} values of the wrong type "
            f"(e.g. {found['example']}), left out",
            file=sys.stderr,
        )
    if report["drift"].get("missing"):
        missing = ", ".join(report["drift"]["missing"])
        print(f"monitor: features not in the batch: {missing}", file=sys.stderr)
    estimated = report["estimated_performance"]
    if estimated.get("metric"):
        low, high = estimated["interval"]
        print(
            f"monitor: estimated {estimated['metric']} {estimated['estimate']:.4f} "
            f"[{low:.4f}, {high:.4f}] (no labels, from the model's probabilities)",
            file=sys.stderr,
        )
    print(f"monitor: {report['verdict']} (reports in {MONITOR_MARKDOWN})")
    return EXIT_CODES[report["verdict"]]
