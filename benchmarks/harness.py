"""Shared pieces of the side-by-side benchmarks: timing, equal-objective calibration, machine facts, tables.

Equal objective: every contender is run at a ladder of its own tolerance, loosest first, and timed at
the loosest tolerance whose objective is within 1e-6 (relative) of the best objective any run reached.
A contender that never gets there is timed at its tightest setting and marked "not converged".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
GAP = 1e-6


@dataclasses.dataclass
class Contender:
    name: str
    fit: Callable[[float], Any]  # tolerance -> fitted result
    objective: Callable[[Any], float]
    tols: Sequence[float] = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10)
    repeats: int | None = None  # None: the run's default
    info: Callable[[Any], str] = lambda result: ""


@dataclasses.dataclass
class Run:
    contender: str
    tol: float
    seconds: list[float]
    objective: float
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def timed(fit: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    seconds, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fit()
        seconds.append(time.perf_counter() - t0)
    return seconds, result


def race(contenders: Sequence[Contender], repeats: int, log: Callable[[str], None] = print) -> tuple[list[Run], float]:
    """Calibrate every contender's tolerance to the common objective, then time it; returns (runs, reference)."""
    ladder: dict[str, list[tuple[float, float]]] = {}
    calibration: dict[tuple[str, float], tuple[list[float], Any]] = {}
    for c in contenders:
        ladder[c.name] = []
        previous = None
        for tol in c.tols:
            seconds, result = timed(lambda c=c, tol=tol: c.fit(tol), 1)
            calibration[(c.name, tol)] = (seconds, result)
            value = c.objective(result)
            ladder[c.name].append((tol, value))
            log(f"    calibrate {c.name} tol={tol:g}: objective {value:.12g} in {seconds[0]:.2f}s")
            if previous is not None and abs(previous - value) <= 1e-10 * abs(value):
                break  # tighter settings no longer move it
            best = min(v for steps in ladder.values() for _, v in steps)
            if c is not contenders[0] and (value - best) / abs(best) <= GAP:
                break  # already at the common objective: a tighter (slower) setting cannot be the one timed
            previous = value
    reference = min(v for steps in ladder.values() for _, v in steps)
    runs = []
    for c in contenders:
        steps = ladder[c.name]
        good = [tol for tol, v in steps if (v - reference) / abs(reference) <= GAP]
        tol = good[0] if good else steps[-1][0]
        if (c.repeats or repeats) == 1:
            # One timed run was asked for: the calibration run at this tolerance is that run (minutes-long
            # contenders are not fitted twice).
            seconds, result = calibration[(c.name, tol)]
        else:
            seconds, result = timed(lambda c=c, tol=tol: c.fit(tol), c.repeats or repeats)
        value = c.objective(result)
        runs.append(Run(c.name, tol, seconds, value, c.info(result)))
        log(
            f"  {c.name}: median {statistics.median(seconds):.3f}s at tol={tol:g}, gap {(value - reference) / abs(reference):.1e}"
        )
    return runs, reference


def machine() -> str:
    import numpy
    import scipy

    try:
        import threadpoolctl

        blas = ", ".join(
            f"{i['internal_api']} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
            for i in threadpoolctl.threadpool_info()
        )
    except ImportError:
        blas = "unknown"
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{dt.date.today().isoformat()}; {platform.machine()} {cpu}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, scipy {scipy.__version__}; BLAS {blas}"
    )


def versions(*modules: str) -> str:
    import importlib
    import importlib.metadata

    out = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            out.append(f"{name} (not installed)")
            continue
        version = getattr(module, "__version__", None) or importlib.metadata.version(name.replace("_", "-"))
        out.append(f"{name} {version}")
    return ", ".join(out)


def markdown_table(title: str, runs: list[Run], reference: float, ours: str, peers: Sequence[str]) -> str:
    def ok(r: Run) -> bool:
        return (r.objective - reference) / abs(reference) <= GAP

    peer_times = [r.median for r in runs if r.contender in peers and ok(r)]
    best_peer = min(peer_times, default=None)
    lines = [
        f"#### {title}",
        "",
        "| contender | median s | runs | tol used | rel. objective gap | time / best peer | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        gap = (r.objective - reference) / abs(reference)
        ratio = f"{r.median / best_peer:.2f}x" if best_peer else "-"
        flag = "" if ok(r) else " **not converged to 1e-6**"
        lines.append(
            f"| {r.contender} | {r.median:.3f} | {len(r.seconds)} | {r.tol:g} | {gap:.1e}{flag} | {ratio} | {r.note} |"
        )
    return "\n".join(lines) + "\n"
