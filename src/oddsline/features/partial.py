"""A design block's share of the log-odds for one row, summed in design order — the one arithmetic the
table path (``scoring.block_log_odds``) must match bit for bit — and the same share for many rows.

A column's batch scorer takes the common case (a known level, a number in range) for all rows at once
and leaves every other row to its one-row scorer, which counts, imputes or refuses exactly as it does
for a row scored alone; so a row gets the same number whichever path scores it.

Batch scorers read their rows through :class:`Rows`: one column's values at once, or any one row as a
dict. :class:`DictRows` is a list of dict rows; a service that decodes a request straight into columns
hands those instead (``serve/columns.py``), and no dict is built for a row unless a one-row scorer
needs it. Such rows also carry the request's JSON text, which the compiled scorer reads directly
(``scoring_json.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .report import TransformReport

__all__ = ["BatchScore", "DictRows", "RowScore", "Rows", "finish_batch", "partial_sum", "row_by_row"]


class Rows(Protocol):
    """Rows as the batch scorers read them."""

    json: bytes | None  # the rows as one JSON array, when they came as one; else None

    def __len__(self) -> int: ...

    def column(self, name: str) -> Sequence[Any]:
        """Every row's value of ``name``, in row order; KeyError if a row lacks it."""
        ...

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a dict of column: value."""
        ...


class DictRows:
    """A list of dict rows (a JSON request parsed the usual way) as :class:`Rows`."""

    json: bytes | None = None

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        return list(map(itemgetter(name), self.rows))  # map over a C callable: no bytecode per row

    def row(self, i: int) -> dict[str, Any]:
        return self.rows[i]


RowScore = Callable[[dict[str, Any], TransformReport], float]
BatchScore = Callable[[Rows, TransformReport], NDArray[np.float64]]


def partial_sum(terms: list[tuple[int, float]], coef: tuple[float, ...]) -> float:
    """sum of coef[j] * value over a block's non-zero (j, value) terms, in increasing j."""
    part = 0.0
    for j, value in terms:
        part += coef[j] * value
    return part


def finish_batch(rows: Rows, scores: list[float | None], one: RowScore, report: TransformReport) -> NDArray[np.float64]:
    """The scores the common case gave, with each row it left as None scored by ``one``."""
    out = np.array(scores, dtype=np.float64)  # None becomes NaN; a coefficient never is NaN
    left = np.isnan(out)
    if left.any():
        for i in np.flatnonzero(left).tolist():
            out[i] = one(rows.row(i), report)
    return out


def row_by_row(one: RowScore) -> BatchScore:
    """A batch scorer for a column kind without a faster one."""

    def score_many(rows: Rows, report: TransformReport) -> NDArray[np.float64]:
        return np.array([one(rows.row(i), report) for i in range(len(rows))], dtype=np.float64)

    return score_many
