"""Does a probability mean what it says? Expected calibration error, calibration slope and intercept,
the Murphy decomposition of the Brier score, and the reliability curve behind them."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._exceptions import ParameterError
from ..core.link import expit, log1pexp, logit
from ._checks import EPS, check

__all__ = [
    "brier_decomposition",
    "calibration_slope_intercept",
    "calibration_undefined",
    "calibration_with_reasons",
    "expected_calibration_error",
    "reliability_curve",
]


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
    weight = np.bincount(bins, weights=w, minlength=n_bins).astype(np.float64)
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
    calibration-in-the-large: the intercept a0 of y ~ a0 + offset(logit p) (0 = right on average).

    NaN where the maximum-likelihood estimate does not exist; ``calibration_undefined`` says why.
    """
    return calibration_with_reasons(y, p, sample_weight)[0]


def calibration_undefined(y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None) -> dict[str, str]:
    """Why each part of ``calibration_slope_intercept`` that is NaN is undefined (empty: all defined)."""
    y_arr, p_arr, w = check(y, p, sample_weight)
    return _undefined(y_arr, logit(np.clip(p_arr, EPS, 1 - EPS)), w)


def calibration_with_reasons(
    y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None
) -> tuple[dict[str, float], dict[str, str]]:
    """``calibration_slope_intercept`` and ``calibration_undefined`` in one pass."""
    y_arr, p_arr, w = check(y, p, sample_weight)
    z = logit(np.clip(p_arr, EPS, 1 - EPS))
    undefined = _undefined(y_arr, z, w)
    a0 = math.nan if "in_the_large" in undefined else _in_the_large(y_arr, z, w)
    a, b = (math.nan, math.nan) if "slope" in undefined else _recalibration(y_arr, z, w, a0)
    return {"slope": b, "intercept": a, "in_the_large": a0}, undefined


def _undefined(y: NDArray[np.float64], z: NDArray[np.float64], w: NDArray[np.float64]) -> dict[str, str]:
    used = w > 0
    positive, negative = z[used & (y == 1)], z[used & (y == 0)]
    if positive.size == 0 or negative.size == 0:
        why = "needs both classes among the labels; this sample has only one"
        return {"slope": why, "intercept": why, "in_the_large": why}
    if np.ptp(z[used]) == 0:
        why = "the predictions are constant: no slope can be fitted to them"
    elif negative.max() <= positive.min() or positive.max() <= negative.min():
        why = "the predictions separate the classes: the maximum-likelihood slope is infinite"
    else:
        return {}
    return {"slope": why, "intercept": why}


def _residual_and_curvature(
    y: NDArray[np.float64], eta: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """y - expit(eta) and expit(eta) (1 - expit(eta)). Where eta > 15, 1 - expit(eta) is taken as
    expit(-eta): the difference keeps 1e-16 / 3e-7 of its digits there, and one significant digit at p
    exactly 1 (eta = 34.5); elsewhere the second transcendental pass would cost a third of the fit."""
    q = expit(eta)
    q_not = 1 - q
    far = eta > 15
    if far.any():
        q_not[far] = expit(-eta[far])
    return y * q_not - (1 - y) * q, q * q_not


def _recalibration(
    y: NDArray[np.float64], z: NDArray[np.float64], w: NDArray[np.float64], in_the_large: float = 0.0
) -> tuple[float, float]:
    """(a, b) of y ~ a + b z by Newton, for data with a finite estimate (``_undefined``).

    Started from the better, by likelihood, of the calibration-in-the-large fit (b = 1: a few steps
    from a model that is roughly calibrated) and the null model (b = 0: every row has the same
    curvature, so the Hessian is well conditioned even for hard 0/1 predictions, |z| = 34.5, where
    b = 1 gives curvatures of 1e-15). A step that moves some linear predictor by 1 or more is halved
    until it raises the likelihood; shorter steps, those near the optimum, are taken whole.
    """
    centre = float(w @ z / w.sum())
    zc = z - centre
    spread = float(np.max(np.abs(zc)))
    rate = float(w @ y / w.sum())

    def loglik(t: NDArray[np.float64]) -> float:
        eta = t[0] + t[1] * zc
        return float(w @ (y * eta - log1pexp(eta)))

    null = float(w.sum()) * (rate * math.log(rate) + (1 - rate) * math.log1p(-rate))
    theta = np.array([in_the_large + centre, 1.0])
    current = loglik(theta)
    if null > current:
        theta, current = np.array([math.log(rate / (1 - rate)), 0.0]), null
    for _ in range(100):
        r, h = _residual_and_curvature(y, theta[0] + theta[1] * zc)
        r, h = w * r, w * h
        grad = np.array([r.sum(), r @ zc])
        hess = np.array([[h.sum(), h @ zc], [h @ zc, h @ (zc * zc)]])
        step = np.linalg.solve(hess, grad)
        if abs(step[0]) + abs(step[1]) * spread >= 1:
            for _halving in range(50):
                trial = loglik(theta + step)
                if trial >= current - 1e-12 * abs(current):
                    break
                step = step / 2
            current = trial
        theta = theta + step
        if np.max(np.abs(step)) < 1e-12 * (1 + np.max(np.abs(theta))):
            break
    return float(theta[0] - theta[1] * centre), float(theta[1])


def _in_the_large(y: NDArray[np.float64], z: NDArray[np.float64], w: NDArray[np.float64]) -> float:
    """The root of sum w (y - expit(a0 + z)) = 0 by Newton from 0, kept inside a bracket that shrinks
    with each evaluation (bisection when a step leaves it): plain Newton overshoots when p is exactly 0
    or 1 (curvature 1e-15). The score decreases in a0 and, with both classes present, changes sign in
    [-80, 80], since |z| <= 34.6 and expit(-45) < 1e-19."""
    low, high, a0 = -80.0, 80.0, 0.0
    for _ in range(200):
        r, h = _residual_and_curvature(y, a0 + z)
        score, curvature = float(w @ r), float(w @ h)
        if score > 0:
            low = a0
        else:
            high = a0
        proposal = a0 + score / curvature if curvature > 0 else math.nan
        if not low < proposal < high:
            proposal = 0.5 * (low + high)
        if abs(proposal - a0) < 1e-13 * (1 + abs(a0)):
            return proposal
        a0 = proposal
    return a0
