"""Validation shared by every metric. ``y`` is 0/1, ``p`` the probability of class 1, weights >= 0."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._exceptions import DataError

# Probabilities are clipped this far from 0 and 1 so one confident mistake costs a large but finite loss.
EPS = 1e-15


def check(
    y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None
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
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise DataError("sample_weight must be finite and non-negative")
    return y_arr, p_arr, w
