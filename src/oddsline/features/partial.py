"""A design block's share of the log-odds for one row, summed in design order — the one arithmetic the
table path (``scoring.block_log_odds``) must match bit for bit — and the same share for a list of rows.

A column's batch scorer takes the common case (a known level, a number in range) for all rows at once
and leaves every other row to its one-row scorer, which counts, imputes or refuses exactly as it does
for a row scored alone; so a row gets the same number whichever path scores it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .report import TransformReport

__all__ = ["BatchScore", "RowScore", "finish_batch", "partial_sum", "row_by_row"]

RowScore = Callable[[dict[str, Any], TransformReport], float]
BatchScore = Callable[[list[dict[str, Any]], TransformReport], NDArray[np.float64]]


def partial_sum(terms: list[tuple[int, float]], coef: tuple[float, ...]) -> float:
    """sum of coef[j] * value over a block's non-zero (j, value) terms, in increasing j."""
    part = 0.0
    for j, value in terms:
        part += coef[j] * value
    return part


def finish_batch(
    rows: list[dict[str, Any]], scores: list[float | None], one: RowScore, report: TransformReport
) -> NDArray[np.float64]:
    """The scores the common case gave, with each row it left as None scored by ``one``."""
    out = np.array(scores, dtype=np.float64)  # None becomes NaN; a coefficient never is NaN
    left = np.isnan(out)
    if left.any():
        for i in np.flatnonzero(left).tolist():
            out[i] = one(rows[i], report)
    return out


def row_by_row(one: RowScore) -> BatchScore:
    """A batch scorer for a column kind without a faster one."""

    def score_many(rows: list[dict[str, Any]], report: TransformReport) -> NDArray[np.float64]:
        return np.array([one(row, report) for row in rows], dtype=np.float64)

    return score_many
