"""Metrics of binary probabilistic predictions. ``y`` is 0/1, ``p`` the probability of class 1."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

from ._exceptions import DataError

__all__ = ["accuracy", "brier_score", "evaluate_binary", "log_loss", "roc_auc"]

# Probabilities are clipped this far from 0 and 1 so one confident mistake costs a large but finite loss.
_EPS = 1e-15


def log_loss(y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    y_arr, p_arr, w = _check(y, p, sample_weight)
    q = np.clip(p_arr, _EPS, 1 - _EPS)
    losses = -(y_arr * np.log(q) + (1 - y_arr) * np.log1p(-q))
    return float(w @ losses / w.sum())


def brier_score(y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    y_arr, p_arr, w = _check(y, p, sample_weight)
    return float(w @ (p_arr - y_arr) ** 2 / w.sum())


def accuracy(y: ArrayLike, p: ArrayLike, threshold: float = 0.5, sample_weight: ArrayLike | None = None) -> float:
    """Share of rows whose decision (p >= threshold) equals the label."""
    y_arr, p_arr, w = _check(y, p, sample_weight)
    decided = (p_arr >= threshold).astype(np.float64)
    return float(w @ (decided == y_arr) / w.sum())


def roc_auc(y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    """Area under the ROC curve: the probability a random positive outranks a random negative (ties 1/2).

    Unweighted, this is the Mann-Whitney U statistic from midranks, O(n log n). Weighted, the same
    statistic over weight-cumulated ranks.
    """
    y_arr, p_arr, w = _check(y, p, sample_weight)
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


def evaluate_binary(
    y: ArrayLike, p: ArrayLike, threshold: float = 0.5, sample_weight: ArrayLike | None = None
) -> dict[str, float]:
    """The headline metrics of a binary model, as a flat dict."""
    y_arr, _, _ = _check(y, p, sample_weight)
    return {
        "n_rows": float(len(y_arr)),
        "positive_rate": float(np.mean(y_arr)),
        "log_loss": log_loss(y, p, sample_weight),
        "roc_auc": roc_auc(y, p, sample_weight),
        "brier": brier_score(y, p, sample_weight),
        "accuracy": accuracy(y, p, threshold, sample_weight),
        "threshold": float(threshold),
    }


def _check(
    y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    y_arr = np.asarray(y, dtype=np.float64).ravel()
    p_arr = np.asarray(p, dtype=np.float64).ravel()
    if y_arr.shape != p_arr.shape:
        raise DataError(f"labels ({y_arr.shape[0]}) and probabilities ({p_arr.shape[0]}) differ in length")
    if y_arr.size == 0:
        raise DataError("no rows to evaluate")
    if not np.all((y_arr == 0) | (y_arr == 1)):
        raise DataError("labels must be 0 or 1")
    if not np.all((p_arr >= 0) & (p_arr <= 1)):
        raise DataError("probabilities must lie in [0, 1]")
    w = np.ones_like(y_arr) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).ravel()
    if w.shape != y_arr.shape:
        raise DataError("sample_weight must have one value per row")
    return y_arr, p_arr, w
