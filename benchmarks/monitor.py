"""Monitoring benchmark (issue 9): drift of 100 columns and the score, 1,000,000-row reference against
a 100,000-row current window.

    .venv/bin/python benchmarks/monitor.py [--repeats 3]

The reference statistics are captured once at training (as ``oddsline.train`` does; not timed); the
timed step is ``drift_report`` on the current window: binning 100 columns, PSI/JS/KS/chi-square per
column, scoring the window and the score's drift. Evidently's DataDriftPreset is measured beside it
with ``--evidently-python``: it runs in its own interpreter (its own virtual environment, see
monitor_evidently.py) on the same tables, built by the same generator with the same seeds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import oddsline
from harness import machine, versions
from monitor_data import table
from oddsline.monitor import drift_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--evidently-repeats", type=int, default=1, help="Evidently takes minutes per run (1)")
    parser.add_argument(
        "--evidently-python",
        metavar="PYTHON",
        help="an interpreter with Evidently installed (see monitor_evidently.py)",
    )
    args = parser.parse_args()
    reference = table(1_000_000, 0.0, 0)
    current = table(100_000, 0.6, 1)  # ten columns shifted by 0.6 sd (PSI about 0.36)
    model = oddsline.train(reference, target="y", positive=1, test_size=0.0)
    seconds = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        report = drift_report(model, current)
        seconds.append(time.perf_counter() - t0)
    peer = "not measured: pass --evidently-python (an interpreter with Evidently; see monitor_evidently.py)"
    if args.evidently_python:
        import json
        import subprocess
        from pathlib import Path

        done = subprocess.run(
            [args.evidently_python, "monitor_evidently.py", str(args.evidently_repeats)],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
        peer = (
            f"{statistics.median(found['seconds']):.2f} (Evidently {found['version']}, median of "
            f"{len(found['seconds'])}; drifted columns reported: {found['drifted_columns']})"
        )
    print(
        "\n".join(
            [
                f"Machine: {machine()}",
                "",
                f"Versions: {versions('oddsline', 'numpy', 'pyarrow')}",
                "",
                "#### Drift: 100 columns + score, reference 1,000,000 rows (captured at training), current 100,000 rows",
                "",
                "| contender | seconds |",
                "|---|---|",
                f"| oddsline drift_report (median of {args.repeats}) | {statistics.median(seconds):.2f} |",
                f"| Evidently DataDriftPreset | {peer} |",
                "",
                f"Goal <= 2 s. Flagged: {len(report['drifted'])} columns ({', '.join(report['drifted'][:12])}); "
                f"the ten shifted columns are x0..x9.",
                "",
            ]
        )
    )


if __name__ == "__main__":
    main()
