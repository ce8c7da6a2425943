"""Scores of binary probabilistic predictions: proper scores, ranking, and decisions at a threshold."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

from .._exceptions import DataError, ParameterError
from ._checks import EPS, check

__all__ = [
    "accuracy",
    "at_threshold",
    "at_top",
    "average_precision",
    "brier_score",
    "confusion",
    "log_loss",
    "precision_at_k",
    "recall_at_k",
    "roc_auc",
]


def log_loss(y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    y_arr, p_arr, w = check(y, p, sample_weight)
    q = np.clip(p_arr, EPS, 1 - EPS)
    losses = -(y_arr * np.log(q) + (1 - y_arr) * np.log1p(-q))
    return float(w @ losses / w.sum())


def brier_score(y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    y_arr, p_arr, w = check(y, p, sample_weight)
    return float(w @ (p_arr - y_arr) ** 2 / w.sum())


def accuracy(y: ArrayLike, p: ArrayLike, threshold: float = 0.5, sample_weight: ArrayLike | None = None) -> float:
    """Share of rows whose decision (p >= threshold) equals the label."""
    y_arr, p_arr, w = check(y, p, sample_weight)
    decided = (p_arr >= threshold).astype(np.float64)
    return float(w @ (decided == y_arr) / w.sum())


def roc_auc(y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    """Area under the ROC curve: the probability a random positive outranks a random negative (ties 1/2).

    Unweighted, this is the Mann-Whitney U statistic from midranks, O(n log n). Weighted, the same
    statistic over weight-cumulated ranks.
    """
    y_arr, p_arr, w = check(y, p, sample_weight)
    pos = y_arr == 1
    w_pos, w_neg = w[pos].sum(), w[~pos].sum()
    if w_pos == 0 or w_neg == 0:
        raise DataError("ROC AUC needs both classes among the labels; this sample has only one")
    if sample_weight is None:
        ranks = rankdata(p_arr)
        n_pos, n_neg = pos.sum(), (~pos).sum()
        return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    order = np.argsort(p_arr, kind="mergesort")
    p_sorted, y_sorted, w_sorted = p_arr[order], y_arr[order], w[order]
    neg_w = w_sorted * (1 - y_sorted)
    pos_w = w_sorted * y_sorted
    # Group equal scores: each positive beats all negatives strictly below and ties half of those equal.
    boundaries = np.flatnonzero(np.diff(p_sorted)) + 1
    starts = np.r_[0, boundaries]
    neg_group = np.add.reduceat(neg_w, starts)
    pos_group = np.add.reduceat(pos_w, starts)
    neg_below = np.cumsum(neg_group) - neg_group
    return float((pos_group @ (neg_below + 0.5 * neg_group)) / (w_pos * w_neg))


def average_precision(y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    """Area under the precision-recall curve as a step function (scikit-learn's average precision):
    sum over distinct thresholds of (recall step) x precision there."""
    y_arr, p_arr, w = check(y, p, sample_weight)
    order = np.argsort(-p_arr, kind="mergesort")
    p_sorted, pos_w, all_w = p_arr[order], (w * y_arr)[order], w[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(p_sorted)), p_sorted.shape[0] - 1]
    tp = np.cumsum(pos_w)[last_of_group]
    predicted = np.cumsum(all_w)[last_of_group]
    if tp[-1] == 0:
        raise DataError("average precision needs at least one positive label")
    recall = tp / tp[-1]
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def confusion(
    y: ArrayLike, p: ArrayLike, threshold: float = 0.5, sample_weight: ArrayLike | None = None
) -> dict[str, float]:
    """Weighted counts of true/false positives/negatives for the decision p >= threshold."""
    y_arr, p_arr, w = check(y, p, sample_weight)
    decided = p_arr >= threshold
    positive = y_arr == 1
    return {
        "tp": float(w[decided & positive].sum()),
        "fp": float(w[decided & ~positive].sum()),
        "tn": float(w[~decided & ~positive].sum()),
        "fn": float(w[~decided & positive].sum()),
    }


def at_threshold(
    y: ArrayLike, p: ArrayLike, threshold: float = 0.5, sample_weight: ArrayLike | None = None, beta: float = 1.0
) -> dict[str, float]:
    """Precision, recall, F-beta, false positive and false negative rates of p >= threshold (0 where a
    ratio has an empty denominator, as scikit-learn's zero_division=0)."""
    c = confusion(y, p, threshold, sample_weight)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else 0.0

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    b2 = beta * beta
    return {
        **c,
        "precision": precision,
        "recall": recall,
        "f_beta": ratio((1 + b2) * precision * recall, b2 * precision + recall),
        "fpr": ratio(fp, fp + tn),
        "fnr": ratio(fn, fn + tp),
    }


def _top(p_arr: NDArray[np.float64], k: int) -> NDArray[np.intp]:
    if not (isinstance(k, (int, np.integer)) and 0 < k <= p_arr.shape[0]):
        raise ParameterError(f"k must be an integer in 1..{p_arr.shape[0]}, got {k!r}")
    return np.argsort(-p_arr, kind="mergesort")[:k]


def precision_at_k(y: ArrayLike, p: ArrayLike, k: int) -> float:
    """Share of positives among the k highest scores (ties broken by row order)."""
    y_arr, p_arr, _ = check(y, p)
    return float(y_arr[_top(p_arr, k)].mean())


def recall_at_k(y: ArrayLike, p: ArrayLike, k: int) -> float:
    """Share of all positives found among the k highest scores."""
    y_arr, p_arr, _ = check(y, p)
    total = y_arr.sum()
    if total == 0:
        raise DataError("recall@k needs at least one positive label")
    return float(y_arr[_top(p_arr, k)].sum() / total)


def at_top(
    y: ArrayLike, p: ArrayLike, fraction: float = 0.1, sample_weight: ArrayLike | None = None
) -> dict[str, float]:
    """Precision, recall and lift among the highest-scored ``fraction`` of the (weighted) rows — the
    "@k" metrics with k as a share, so they compare across samples of different sizes. The row that
    straddles the cut counts pro rata."""
    y_arr, p_arr, w = check(y, p, sample_weight)
    if not 0 < fraction <= 1:
        raise ParameterError(f"fraction must be in (0, 1], got {fraction!r}")
    order = np.argsort(-p_arr, kind="mergesort")
    k = fraction * w.sum()
    taken = np.minimum(np.cumsum(w[order]), k)
    share = np.diff(np.r_[0.0, taken])  # weight of each row inside the top k
    found = float(share @ y_arr[order])
    total = float(w @ y_arr)
    if total == 0:
        raise DataError("recall and lift at the top need at least one positive label")
    precision = found / k
    return {"precision_at_k": precision, "recall_at_k": found / total, "lift_at_k": precision / (total / w.sum())}
