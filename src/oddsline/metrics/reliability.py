"""Does a probability mean what it says? Expected calibration error, calibration slope and intercept,
the Murphy decomposition of the Brier score, and the reliability curve behind them."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._exceptions import ParameterError
from ..core.link import expit, logit
from ._checks import EPS, check

__all__ = ["brier_decomposition", "calibration_slope_intercept", "expected_calibration_error", "reliability_curve"]


def _bins(p: NDArray[np.float64], w: NDArray[np.float64], n_bins: int, strategy: str) -> NDArray[np.intp]:
    if not (isinstance(n_bins, int) and n_bins >= 1):
        raise ParameterError(f"n_bins must be a positive integer, got {n_bins!r}")
    if strategy == "width":
        return np.minimum((p * n_bins).astype(np.intp), n_bins - 1)
    if strategy == "mass":
        # Equal weight per bin: cut the weighted empirical CDF of p at k / n_bins.
        order = np.argsort(p, kind="mergesort")
        cumulative = np.cumsum(w[order]) / w.sum()
        bins = np.empty(p.shape[0], dtype=np.intp)
        bins[order] = np.minimum((cumulative * n_bins - 1e-12).astype(np.intp), n_bins - 1)
        return bins
    raise ParameterError(f"strategy must be 'width' (equal-width bins) or 'mass' (equal-mass bins), got {strategy!r}")


def reliability_curve(
    y: ArrayLike, p: ArrayLike, n_bins: int = 10, strategy: str = "width", sample_weight: ArrayLike | None = None
) -> dict[str, NDArray[np.float64]]:
    """Per non-empty bin: mean predicted probability, observed positive rate, and weight."""
    y_arr, p_arr, w = check(y, p, sample_weight)
    bins = _bins(p_arr, w, n_bins, strategy)
    weight = np.bincount(bins, weights=w, minlength=n_bins)
    predicted = np.bincount(bins, weights=w * p_arr, minlength=n_bins)
    observed = np.bincount(bins, weights=w * y_arr, minlength=n_bins)
    used = weight > 0
    return {
        "predicted": predicted[used] / weight[used],
        "observed": observed[used] / weight[used],
        "weight": weight[used],
    }


def expected_calibration_error(
    y: ArrayLike, p: ArrayLike, n_bins: int = 10, strategy: str = "width", sample_weight: ArrayLike | None = None
) -> float:
    """Weighted mean over bins of |observed rate - mean prediction|."""
    curve = reliability_curve(y, p, n_bins, strategy, sample_weight)
    return float(curve["weight"] @ np.abs(curve["observed"] - curve["predicted"]) / curve["weight"].sum())


def brier_decomposition(
    y: ArrayLike, p: ArrayLike, n_bins: int = 10, sample_weight: ArrayLike | None = None
) -> dict[str, float]:
    """Murphy's decomposition over equal-width bins: Brier = reliability - resolution + uncertainty +
    within-bin variance (the last is zero when every bin holds one value of p; it is reported so the
    parts add up exactly)."""
    y_arr, p_arr, w = check(y, p, sample_weight)
    curve = reliability_curve(y_arr, p_arr, n_bins, "width", w)
    total = w.sum()
    base = float(w @ y_arr / total)
    reliability = float(curve["weight"] @ (curve["predicted"] - curve["observed"]) ** 2 / total)
    resolution = float(curve["weight"] @ (curve["observed"] - base) ** 2 / total)
    uncertainty = base * (1 - base)
    brier = float(w @ (p_arr - y_arr) ** 2 / total)
    return {
        "brier": brier,
        "reliability": reliability,
        "resolution": resolution,
        "uncertainty": uncertainty,
        "within_bin": brier - (reliability - resolution + uncertainty),
    }


def calibration_slope_intercept(y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None) -> dict[str, float]:
    """Slope b of the logistic recalibration y ~ a + b logit(p) (1 = calibrated; < 1 = too extreme), and
    calibration-in-the-large: the intercept a0 of y ~ a0 + offset(logit p) (0 = right on average)."""
    y_arr, p_arr, w = check(y, p, sample_weight)
    z = logit(np.clip(p_arr, EPS, 1 - EPS))
    a, b = 0.0, 1.0
    for _ in range(100):  # Newton on two parameters: cheap and exact
        q = expit(a + b * z)
        r, h = w * (y_arr - q), w * q * (1 - q)
        grad = np.array([r.sum(), r @ z])
        hess = np.array([[h.sum(), h @ z], [h @ z, h @ (z * z)]])
        step = np.linalg.solve(hess, grad)
        a, b = a + step[0], b + step[1]
        if np.max(np.abs(step)) < 1e-12:
            break
    a0 = 0.0
    for _ in range(100):
        q = expit(a0 + z)
        step = float(w @ (y_arr - q)) / float(w @ (q * (1 - q)))
        a0 += step
        if abs(step) < 1e-12:
            break
    return {"slope": float(b), "intercept": float(a), "in_the_large": float(a0) if math.isfinite(a0) else math.nan}
