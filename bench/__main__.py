"""Run the benchmarks: `python -m bench [NAME ...] [--keep] [--quick]` (default: all, in order).

Each prints its tables and writes bench/results/<name>.json. `--quick` uses small sizes and short
load windows (a smoke run of the code, not numbers to keep); `--keep` leaves the work folders.
`--check` runs nothing: it names the result files older than the code they measure (exit 1);
a full run ends with the same check.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    adoption,
    batch,
    estimators,
    first_metrics,
    monitor,
    prcache,
    scaling,
    serving,
    testsuite,
)
from bench.common import RESULTS, TEMPLATE, VENV, child_env, machine, table
from bench.freshness import stale_results

BENCHMARKS = {
    "first_metrics": first_metrics,
    "prcache": prcache,
    "scaling": scaling,
    "serving": serving,
    "testsuite": testsuite,
    "estimators": estimators,
    "adoption": adoption,
    "batch": batch,
    "monitor": monitor,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], metavar="NAME")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument("--quick", action="store_true", help="small sizes: check the code runs")
    parser.add_argument("--check", action="store_true", help="only: are the results current?")
    args = parser.parse_args(argv)
    if args.check:
        return check_results()
    names = args.names or list(BENCHMARKS)
    info = machine()
    print(
        f"bench: {info['cores']} cores, {info['memory_gb']} GB, Python {info['python']}, "
        f"load average {info['load_average_1m']}; running {', '.join(names)}\n",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    context = {"env": child_env, "venv": VENV, "tmp": str(tmp), "keep": args.keep}
    context["quick"] = args.quick
    started, durations, failed = time.perf_counter(), [], []
    for name in names:
        began = time.perf_counter()
        try:
            BENCHMARKS[name].run(context)
            status = "ok"
        except Exception as error:  # one broken benchmark must not hide the others' numbers
            print(f"bench: {name} FAILED: {error}", file=sys.stderr, flush=True)
            status, failed = "failed", [*failed, name]
        durations.append([name, status, round(time.perf_counter() - began, 1)])
    durations.append(["total", "-", round(time.perf_counter() - started, 1)])
    table("bench: wall time per benchmark", ["benchmark", "status", "wall s"], durations)
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"bench: work folders kept in {tmp}")
    if args.quick:
        return 1 if failed else 0
    return max(1 if failed else 0, check_results())


def check_results() -> int:
    """Print each result file older than the code it measures; 1 when any."""
    stale = stale_results(TEMPLATE, RESULTS)
    for line in stale:
        print(f"bench: stale: {line}", file=sys.stderr)
    if stale:
        print("bench: rerun them (python -m bench NAME ...), then commit", file=sys.stderr)
    else:
        print("bench: every result describes HEAD's code")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
