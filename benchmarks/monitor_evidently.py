"""The Evidently side of the monitoring benchmark, run in an interpreter where Evidently is installed
(it pins its own pandas/numpy, so it lives in its own virtual environment):

    python -m venv /tmp/evidently && /tmp/evidently/bin/pip install evidently pyarrow
    cd benchmarks && ../.venv/bin/python monitor.py --evidently-python /tmp/evidently/bin/python

Builds the same tables as monitor.py (same generator, same seeds), runs Report([DataDriftPreset()]) on
the 1,000,000-row reference and the 100,000-row current window, and prints the seconds of each run
and the drifted column count as JSON.
"""

from __future__ import annotations

import json
import sys
import time

from monitor_data import table


def main() -> None:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    reference = table(1_000_000, 0.0, 0).to_pandas()
    current = table(100_000, 0.6, 1).to_pandas()
    seconds, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
        seconds.append(time.perf_counter() - t0)
    drifted = None
    for metric in result.dict().get("metrics", []):  # type: ignore[union-attr]
        value = metric.get("value")
        if isinstance(value, dict) and "count" in value and "DriftedColumnsCount" in str(metric.get("metric_name", "")):
            drifted = value["count"]
    import evidently

    print(json.dumps({"seconds": seconds, "drifted_columns": drifted, "version": evidently.__version__}))


if __name__ == "__main__":
    main()
