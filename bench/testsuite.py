"""The template's test suite, wall time by phase, without rerunning it: `make test` writes a JUnit
report (build/test-report.xml) that is aggregated here by test file and by kind (fast: bake,
render, lint; slow: a baked project's pipeline, marked `slow`). Measured live, because they are
cheap: `make lint`, test collection, and the suite's cheapest file (tests/test_hooks.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import TEMPLATE, measure, table, write_result

NAME = "testsuite"
REPORT = TEMPLATE / "build" / "test-report.xml"
CHEAP = "tests/test_hooks.py"


def read_report(path: Path) -> dict[str, Any]:
    """Per-test times from a JUnit report (pytest: each test's setup + call + teardown)."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    tests = []
    for suite in suites:
        for case in suite.iter("testcase"):
            outcome = "passed"
            for kind in ("failure", "error", "skipped"):
                if case.find(kind) is not None:
                    outcome = kind
            module = case.get("classname", "").split(".")
            file = f"{'/'.join(module[:2])}.py" if len(module) > 1 else case.get("file", "?")
            tests.append(
                {
                    "file": file,
                    "name": case.get("name"),
                    "time_s": float(case.get("time") or 0),
                    "outcome": outcome,
                }
            )
    suite = suites[0]
    return {
        "wall_s": sum(float(s.get("time") or 0) for s in suites),
        "timestamp": suite.get("timestamp"),
        "tests": tests,
    }


def slow_ids(env: dict[str, str]) -> tuple[set[tuple[str, str]], int | None]:
    """(file, name) of the tests marked slow, from a collection-only run; how many tests the
    suite has."""
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-m", "slow", "-p", "no:cacheprovider"],
        cwd=TEMPLATE,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    ids = set()
    for line in listing.splitlines():
        if "::" in line:
            file, _, name = line.strip().partition("::")
            ids.add((file, name))
    total = re.search(r"(\d+)/(\d+) tests? collected", listing)
    return ids, int(total.group(2)) if total else None


def run(context: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    env = context["env"]()
    log = Path(context["tmp"]) / "testsuite.log"
    python = sys.executable
    live = {
        "make lint": measure(["make", "lint"], TEMPLATE, log, env),
        "pytest --co (collect every test)": measure(
            [python, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider"], TEMPLATE, log, env
        ),
        f"pytest {CHEAP} (one process)": measure(
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", CHEAP], TEMPLATE, log, env
        ),
    }
    tables = [
        table(
            "measured now (cheap parts of `make test`)",
            ["phase", "wall s", "cpu s", "ok"],
            [[name, r.wall_s, r.cpu_s, r.ok] for name, r in live.items()],
        )
    ]
    payload: dict[str, Any] = {"live": {k: vars(v) for k, v in live.items()}, "report": None}
    if not REPORT.exists():
        where = REPORT.relative_to(TEMPLATE)
        print(f"testsuite: no {where}: run `make test` to get the whole suite's times")
    else:
        report = read_report(REPORT)
        slow, collected = slow_ids(env)
        per_file: dict[str, dict[str, Any]] = defaultdict(lambda: {"tests": 0, "s": 0.0, "bad": 0})
        kinds: dict[str, float] = defaultdict(float)
        for test in report["tests"]:
            entry = per_file[test["file"]]
            entry["tests"] += 1
            entry["s"] += test["time_s"]
            entry["bad"] += test["outcome"] in ("failure", "error")
            kind = "slow: pipelines" if (test["file"], test["name"]) in slow else "fast: bake, lint"
            kinds[kind] += test["time_s"]
        test_seconds = sum(t["time_s"] for t in report["tests"])
        rows = [
            [file, e["tests"], round(e["s"], 1), round(100 * e["s"] / test_seconds), e["bad"]]
            for file, e in sorted(per_file.items(), key=lambda item: -item[1]["s"])
        ]
        rows.append(["sum of test times", len(report["tests"]), round(test_seconds, 1), 100, None])
        tables.append(
            table(
                f"last JUnit report ({REPORT.relative_to(TEMPLATE)}, {report['timestamp']}): "
                f"{len(report['tests'])} of the {collected or '?'} tests collected now, "
                f"wall {report['wall_s']:.0f} s",
                ["file", "tests", "test s", "% of test s", "failed"],
                rows,
            )
        )
        tables.append(
            table(
                "by kind (test s: setup + call + teardown, summed over all workers)",
                ["kind", "test s", "% of test s"],
                [[k, round(v, 1), round(100 * v / test_seconds)] for k, v in sorted(kinds.items())],
            )
        )
        slowest = sorted(report["tests"], key=lambda t: -t["time_s"])[:8]
        tables.append(
            table(
                "slowest tests",
                ["test", "s"],
                [[f"{t['file']}::{t['name']}", t["time_s"]] for t in slowest],
            )
        )
        payload["report"] = {
            "path": str(REPORT.relative_to(TEMPLATE)),
            "tests_in_report": len(report["tests"]),
            "tests_collected_now": collected,
            "timestamp": report["timestamp"],
            "wall_s": report["wall_s"],
            "sum_test_s": round(test_seconds, 1),
            "per_file": dict(per_file),
            "per_kind": dict(kinds),
            "slowest": slowest,
        }
    write_result(NAME, payload, tables, started, quick=bool(context.get("quick")))
    return {"targets": []}


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main([NAME, *sys.argv[1:]]))
