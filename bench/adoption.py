"""A user's own large table, first hour: the corpus's 50k+ row table (tests/corpus.py `large`,
60,570 rows) from a `dataset=csv` bake to a served first version, each step measured alone.

No table shipped offline has 50,000 rows: `large` stacks statsmodels' randhie (20,190 rows) three
times, so its rows repeat and its metrics measure fitting, not generalisation; only the times
and the choices are read here. The small tables of the corpus run in `make test`
(tests/test_adopt.py); this one would cost minutes there.

Steps, as the README tells a user: `make adopt` (the CSV is over 1 MB: copied and tracked with
DVC), `make repro`, `git commit` through the project's pre-commit hooks, `make gate register
package`, then `make serve` until /readyz answers and one POST of 20 real rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from bench.common import (
    bake,
    git_identity,
    measure,
    require,
    table,
    target,
    targets_table,
    write_result,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from corpus import large  # noqa: E402  (tests/ is not a package)
from servers import free_port, serving  # noqa: E402

NAME = "adoption"
TARGET = "mdvis"
QUICK_ROWS = 5_000


def records(rows: Any, contract: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows as request records: the contract's features, missing as null, whole numbers as int."""
    features = [n for n, c in contract.items() if c["role"] == "feature"]
    out = json.loads(rows[features].to_json(orient="records"))
    for record in out:
        for name, value in record.items():
            if contract[name]["dtype"] == "int" and value is not None:
                record[name] = int(value)
    return out


def serve(project: Path, env: dict[str, str], rows: list[dict], log: Path) -> float:
    """Wall seconds from `make serve` to the answer of one POST; the server is then stopped."""
    port = free_port()
    start = time.perf_counter()
    with serving(["make", "serve", f"PORT={port}"], project, env, log, port, 180) as server:
        answer = requests.post(f"{server.url}/predict", json={"records": rows}, timeout=60)
        if answer.status_code != 200 or len(answer.json()["predictions"]) != len(rows):
            raise RuntimeError(f"POST /predict: {answer.status_code} {answer.text[:500]}")
        return time.perf_counter() - start


def run(context: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    work = Path(context["tmp"]) / NAME
    log = work / "adoption.log"
    env = context["env"](BENTOML_HOME=str(work / "bentoml"))
    frame = large()
    if context["quick"]:
        frame = frame.sample(QUICK_ROWS, random_state=0)
    data = work / "randhie_stacked.csv"
    work.mkdir(parents=True, exist_ok=True)
    frame.to_csv(data, index=False)

    began = time.perf_counter()
    project = bake(work / "bake", dataset="csv", init_git="no")
    bake_s = time.perf_counter() - began
    (project / ".venv").symlink_to(context["venv"])  # the hooks run .venv's tools
    for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"]):
        subprocess.run(command, cwd=project, check=True)
    git_identity(project)
    subprocess.run(["git", "commit", "-qm", "Template", "--no-verify"], cwd=project, check=True)
    subprocess.run(["git", "switch", "-q", "-c", "adopt"], cwd=project, check=True)
    pre_commit = str(context["venv"] / "bin" / "pre-commit")
    subprocess.run([pre_commit, "install"], cwd=project, check=True)

    def step(command: list[str]):
        return require(measure(command, project, log, env), log)

    steps = {"adopt": step(["make", "adopt", f"DATA={data}", f"TARGET={TARGET}"])}
    steps["repro"] = step(["make", "repro"])
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    steps["commit (hooks)"] = step(["git", "commit", "-qm", "Adopt my data"])
    for name in ("gate", "register", "package"):
        steps[name] = step(["make", name])
    contract = yaml.safe_load((project / "contract.yaml").read_text())["columns"]
    rows = records(frame.drop(columns=TARGET).head(20), contract)
    serve_s = serve(project, env, rows, log)

    params = yaml.safe_load((project / "params.yaml").read_text())
    metrics = json.loads((project / "reports" / "metrics.json").read_text())["metrics"]
    gate = json.loads((project / "reports" / "gate.json").read_text())
    choices = {
        "rows": len(frame),
        "csv_mb": round(data.stat().st_size / 1e6, 1),
        "tracked_with_dvc": (project / f"{params['data']['raw']}.dvc").exists(),
        "task": params["task"],
        "left_out": {n: c["role"] for n, c in contract.items() if c["role"] in ("id", "ignored")},
        "gate": params["gate"]["metrics"],
        "verdict": gate["verdict"],
        "metrics": {name: round(entry["value"], 4) for name, entry in metrics.items()},
    }
    rows_table = [["bake", round(bake_s, 1), None, None]]
    rows_table += [[name, r.wall_s, r.cpu_s, r.peak_rss_mb] for name, r in steps.items()]
    rows_table.append(["serve until a POST answers", round(serve_s, 1), None, None])
    total = bake_s + sum(r.wall_s for r in steps.values()) + serve_s
    rows_table.append(["total: bake to first served prediction", round(total, 1), None, None])
    tables = [
        table(
            f"adoption: {len(frame):,} rows ({choices['csv_mb']} MB CSV), bake to a served version",
            ["step", "wall s", "CPU s", "peak RSS MB"],
            rows_table,
        ),
        table(
            "adoption: what make adopt chose",
            ["choice", "value"],
            [
                [key, json.dumps(value) if isinstance(value, dict) else value]
                for key, value in choices.items()
            ],
        ),
    ]
    targets = [
        target("large table blessed (1 = yes)", float(gate["verdict"] == "BLESSED"), 1.0, True),
        target("bake -> served prediction, s", round(total, 1), 600.0),
    ]
    tables.append(targets_table(targets))
    payload = {
        "steps": {name: vars(r) for name, r in steps.items()},
        "serve_s": round(serve_s, 1),
        "total_s": round(total, 1),
        "choices": choices,
        "targets": targets,
    }
    write_result(NAME, payload, tables, started, context["quick"])
    return payload
