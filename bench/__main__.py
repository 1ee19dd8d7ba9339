"""Run the benchmarks: `python -m bench [NAME ...] [--keep] [--quick]` (default: all, in order).

Each prints its tables and writes bench/results/<name>.json. `--quick` uses small sizes and short
load windows (a smoke run of the code, not numbers to keep); `--keep` leaves the work folders.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    adoption,
    estimators,
    first_metrics,
    monitor,
    prcache,
    scaling,
    serving,
    testsuite,
)
from bench.common import VENV, child_env, machine, table

BENCHMARKS = {
    "first_metrics": first_metrics,
    "prcache": prcache,
    "scaling": scaling,
    "serving": serving,
    "testsuite": testsuite,
    "estimators": estimators,
    "adoption": adoption,
    "monitor": monitor,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], metavar="NAME")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument("--quick", action="store_true", help="small sizes: check the code runs")
    args = parser.parse_args(argv)
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
