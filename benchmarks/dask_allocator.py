"""Issue 18: the streamed fit on oddsline's LocalCluster against one started with Dask's default nanny
environment (``MALLOC_TRIM_THRESHOLD_=65536``, which pins glibc's mmap threshold), interleaved.

    cd benchmarks && ../.venv/bin/python dask_allocator.py [--rows 1000000] [--repeats 4]

Both clusters have 2 single-threaded worker processes and run side by side; each fit alternates between
them, and each cluster's first fit (its workers' imports) is left out of the median.
"""

from __future__ import annotations

import argparse
import statistics
import time

import distributed

import scale
from harness import machine, versions
from oddsline.distributed import DaskEngine, train_streamed
from oddsline.distributed.engines import local_cluster
from oddsline.sources import open_source


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    print(machine(), versions("numpy", "pyarrow", "distributed"))
    source = open_source(scale.dataset(args.rows))
    ours = local_cluster(2)
    default = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    times: dict[str, list[float]] = {"Dask's default nanny environment": [], "oddsline's LocalCluster": []}
    with distributed.Client(default) as on_default, distributed.Client(ours) as on_ours:
        engines = dict(zip(times, (DaskEngine(client=on_default), DaskEngine(client=on_ours)), strict=True))
        for _ in range(args.repeats):
            for name, engine in engines.items():
                started = time.perf_counter()
                train_streamed(source, "y", engine=engine, spec=scale.SPEC, test_size=0, allow_leaky=True)
                times[name].append(time.perf_counter() - started)
    ours.close()
    default.close()
    for name, runs in times.items():
        print(
            f"{name}: {' '.join(f'{t:.2f}' for t in runs)} s; median after the first {statistics.median(runs[1:]):.2f} s"
        )


if __name__ == "__main__":
    main()
