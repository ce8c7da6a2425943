"""Curves and tables over all thresholds: ROC, precision-recall, and the lift/gain table by quantile."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._exceptions import ParameterError
from ._checks import check

__all__ = ["lift_table", "pr_curve", "roc_curve"]


def _cumulative(
    y: NDArray[np.float64], p: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[NDArray[np.float64], ...]:
    order = np.argsort(-p, kind="mergesort")
    p_sorted = p[order]
    last = np.r_[np.flatnonzero(np.diff(p_sorted)), p_sorted.shape[0] - 1]
    tp = np.cumsum((w * y)[order])[last]
    fp = np.cumsum((w * (1 - y))[order])[last]
    return tp, fp, p_sorted[last]


def roc_curve(y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None) -> dict[str, NDArray[np.float64]]:
    """False and true positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    tp, fp, thresholds = _cumulative(*check(y, p, sample_weight))
    return {
        "fpr": np.r_[0.0, fp / max(fp[-1], 1e-300)],
        "tpr": np.r_[0.0, tp / max(tp[-1], 1e-300)],
        "thresholds": np.r_[np.inf, thresholds],
    }


def pr_curve(y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None) -> dict[str, NDArray[np.float64]]:
    """Precision and recall at every distinct threshold (highest threshold first)."""
    tp, fp, thresholds = _cumulative(*check(y, p, sample_weight))
    return {"precision": tp / (tp + fp), "recall": tp / max(tp[-1], 1e-300), "thresholds": thresholds}


def lift_table(y: ArrayLike, p: ArrayLike, n_groups: int = 10) -> list[dict[str, float]]:
    """Rows sorted by score and cut into ``n_groups`` equal groups (deciles by default): per group the
    positive rate, the lift over the overall rate, and the cumulative share of positives (gain)."""
    y_arr, p_arr, _ = check(y, p)
    if not (isinstance(n_groups, int) and 1 <= n_groups <= y_arr.shape[0]):
        raise ParameterError(f"n_groups must be an integer in 1..{y_arr.shape[0]}, got {n_groups!r}")
    order = np.argsort(-p_arr, kind="mergesort")
    groups = np.array_split(y_arr[order], n_groups)
    overall, total = float(y_arr.mean()), float(y_arr.sum())
    table, found = [], 0.0
    for k, members in enumerate(groups):
        found += float(members.sum())
        rate = float(members.mean())
        table.append(
            {
                "group": k + 1,
                "rows": float(members.shape[0]),
                "positive_rate": rate,
                "lift": rate / overall if overall > 0 else float("nan"),
                "cumulative_gain": found / total if total > 0 else float("nan"),
            }
        )
    return table
