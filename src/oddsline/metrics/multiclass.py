"""Multiclass variants: ``y`` holds class indices 0..K-1, ``P`` is (n, K) with rows summing to 1."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._exceptions import DataError
from ._checks import EPS
from .scores import roc_auc

__all__ = ["accuracy_multiclass", "brier_multiclass", "log_loss_multiclass", "roc_auc_ovr"]


def _check(
    y: ArrayLike, P: ArrayLike, sample_weight: ArrayLike | None
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    P_arr = np.asarray(P, dtype=np.float64)
    y_arr = np.asarray(y).ravel()
    if P_arr.ndim != 2 or P_arr.shape[0] != y_arr.shape[0]:
        raise DataError(
            f"probabilities must be (n_rows, n_classes) with one row per label; got {P_arr.shape} for {y_arr.shape[0]} labels"
        )
    if not np.issubdtype(y_arr.dtype, np.integer) or y_arr.min() < 0 or y_arr.max() >= P_arr.shape[1]:
        raise DataError(f"labels must be class indices 0..{P_arr.shape[1] - 1}")
    if not np.allclose(P_arr.sum(axis=1), 1.0, atol=1e-6):
        raise DataError("each row of probabilities must sum to 1")
    w = np.ones(y_arr.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).ravel()
    return y_arr.astype(np.int64), P_arr, w


def log_loss_multiclass(y: ArrayLike, P: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    y_arr, P_arr, w = _check(y, P, sample_weight)
    picked = np.clip(P_arr[np.arange(y_arr.shape[0]), y_arr], EPS, 1.0)
    return float(w @ -np.log(picked) / w.sum())


def accuracy_multiclass(y: ArrayLike, P: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    y_arr, P_arr, w = _check(y, P, sample_weight)
    return float(w @ (P_arr.argmax(axis=1) == y_arr) / w.sum())


def brier_multiclass(y: ArrayLike, P: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    """Mean over rows of sum_k (P_k - 1[y = k])^2 (the original, multi-category Brier score)."""
    y_arr, P_arr, w = _check(y, P, sample_weight)
    onehot = np.zeros_like(P_arr)
    onehot[np.arange(y_arr.shape[0]), y_arr] = 1.0
    return float(w @ ((P_arr - onehot) ** 2).sum(axis=1) / w.sum())


def roc_auc_ovr(y: ArrayLike, P: ArrayLike, sample_weight: ArrayLike | None = None, average: str = "macro") -> float:
    """One-vs-rest ROC AUC per class, averaged ("macro": plainly; "weighted": by class prevalence)."""
    y_arr, P_arr, w = _check(y, P, sample_weight)
    aucs, shares = [], []
    for k in range(P_arr.shape[1]):
        positive = (y_arr == k).astype(np.float64)
        aucs.append(roc_auc(positive, P_arr[:, k], sample_weight))
        shares.append(float(w @ positive))
    if average == "weighted":
        return float(np.average(aucs, weights=shares))
    return float(np.mean(aucs))
