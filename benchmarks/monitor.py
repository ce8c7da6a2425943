"""Monitoring benchmark (issue 9): drift of 100 columns and the score, 1,000,000-row reference against
a 100,000-row current window.

    .venv/bin/python benchmarks/monitor.py [--repeats 3]

The reference statistics are captured once at training (as ``oddsline.train`` does; not timed); the
timed step is ``drift_report`` on the current window: binning 100 columns, PSI/JS/KS/chi-square per
column, scoring the window and the score's drift. Evidently's DataDriftPreset is measured beside it
when it is installed (it is not on this machine: stated in the output).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pyarrow as pa

import oddsline
from harness import machine, versions
from oddsline.monitor import drift_report


def table(n: int, shift: float, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns = {f"x{j}": rng.normal(loc=shift if j < 10 else 0.0, size=n) for j in range(90)}
    columns |= {f"c{j}": rng.choice([f"level{k}" for k in range(12)], size=n) for j in range(10)}
    logit = sum(columns[f"x{j}"] for j in range(5)) * 0.3
    columns["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pa.table(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    reference = table(1_000_000, 0.0, 0)
    current = table(100_000, 0.6, 1)  # ten columns shifted by 0.6 sd (PSI about 0.36)
    model = oddsline.train(reference, target="y", positive=1, test_size=0.0)
    seconds = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        report = drift_report(model, current)
        seconds.append(time.perf_counter() - t0)
    try:
        import evidently  # noqa: F401

        peer = "installed, but not wired in this script yet"
    except ImportError:
        peer = "not installed on this machine: not measured"
    print(
        "\n".join(
            [
                f"Machine: {machine()}",
                "",
                f"Versions: {versions('oddsline', 'numpy', 'pyarrow')}",
                "",
                "#### Drift: 100 columns + score, reference 1,000,000 rows (captured at training), current 100,000 rows",
                "",
                "| contender | median s |",
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
