"""Shared pieces of the side-by-side benchmarks: timing, objective checks, machine facts, tables."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@dataclasses.dataclass
class Run:
    contender: str
    seconds: list[float]
    objective: float
    n_iter: Any = None
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


def binary_objective(X: Any, y: np.ndarray, coef: np.ndarray, intercept: float, C: float) -> float:
    """sum_i logloss_i + ||coef||^2 / (2C), the objective every contender is asked to minimise."""
    eta = np.asarray(X @ coef).ravel() + intercept
    loss = float(np.sum(np.logaddexp(0.0, eta) - y * eta))
    return loss + (0.0 if math.isinf(C) else float(coef @ coef) / (2 * C))


def machine() -> str:
    import numpy
    import scipy

    try:
        import threadpoolctl

        blas = ", ".join(
            f"{i['internal_api']} {i.get('version')} ({i.get('architecture')})" for i in threadpoolctl.threadpool_info()
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
        f"{dt.date.today().isoformat()}, {platform.machine()} {cpu}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, scipy {scipy.__version__}, BLAS {blas}"
    )


def markdown_table(title: str, runs: list[Run], reference: float, peer: str | None = None) -> str:
    best_peer = min(
        (r.median for r in runs if r.contender.startswith(peer or "\0") and _ok(r, reference)), default=None
    )
    lines = [
        f"### {title}",
        "",
        "| contender | median s | runs | iterations | rel. objective gap | vs best peer | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        gap = (r.objective - reference) / abs(reference)
        ratio = f"{r.median / best_peer:.2f}x" if best_peer else "-"
        ok = "" if _ok(r, reference) else " **not converged to 1e-6**"
        lines.append(
            f"| {r.contender} | {r.median:.3f} | {len(r.seconds)} | {r.n_iter} | {gap:.1e}{ok} | {ratio} | {r.note} |"
        )
    return "\n".join(lines) + "\n"


def _ok(run: Run, reference: float) -> bool:
    return (run.objective - reference) / abs(reference) <= 1e-6
