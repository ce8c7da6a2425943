"""A design block's share of the log-odds for one row, summed in design order — the one arithmetic the
table path (``scoring.block_log_odds``) must match bit for bit."""

from __future__ import annotations

__all__ = ["partial_sum"]


def partial_sum(terms: list[tuple[int, float]], coef: tuple[float, ...]) -> float:
    """sum of coef[j] * value over a block's non-zero (j, value) terms, in increasing j."""
    part = 0.0
    for j, value in terms:
        part += coef[j] * value
    return part
