"""Run every side-by-side benchmark, one after the other, as `make bench` does.

Each benchmark is its own script (see its docstring and the matching section of RESULTS.md for what it
compares and against which peer); this runs them in turn with their default settings, prints their
tables as they come, and says which were skipped and why (serve.py needs wrk; monitor.py measures
Evidently only when given an interpreter that has it). Expect 20-40 minutes on the 2-core machine.

    cd benchmarks && ../.venv/bin/python run.py                 # all
    cd benchmarks && ../.venv/bin/python run.py engine features  # a subset
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "engine": ["engine.py", "--repeats", "5"],
    "inference": ["inference.py"],
    "features": ["features.py"],
    "metrics": ["metrics.py"],
    "monitor": ["monitor.py"],
    "serve": ["serve.py", "--seconds", "8", "--repeats", "3"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"which to run: {', '.join(BENCHMARKS)} (default: all)"
    )
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    failed = []
    for name in args.names or list(BENCHMARKS):
        if name == "serve" and shutil.which("wrk") is None:
            print(f"== {name}: skipped (needs wrk: apt-get install wrk)", flush=True)
            continue
        print(f"== {name}: {' '.join(BENCHMARKS[name])}", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, *BENCHMARKS[name]], cwd=HERE)
        print(f"== {name}: exit {done.returncode} after {time.perf_counter() - started:.0f} s", flush=True)
        if done.returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
