"""Probability calibration: Platt scaling on the logit and isotonic regression.

Platt: p' = expit(a + b logit(p)), fitted by maximum likelihood (two-parameter Newton). Isotonic: the
weighted least-squares non-decreasing step fit of y on p (pool-adjacent-violators), read between its
knots by linear interpolation and clipped outside them, as scikit-learn's ``IsotonicRegression``.
A calibrator is a handful of numbers, stored in the model file; it is fitted on predictions the
model did not train on (a held-out split or cross-fitted folds: see ``training.train``).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._exceptions import ParameterError
from .core.link import expit, logit
from .metrics._checks import EPS, check

__all__ = ["METHODS", "Calibrator", "TemperatureScaler", "fit_calibrator", "fit_temperature"]

METHODS = ("platt", "isotonic")


@dataclass(frozen=True)
class Calibrator:
    method: str
    a: float = 0.0  # Platt: p' = expit(a + b logit(p))
    b: float = 1.0
    knots_x: tuple[float, ...] = ()  # isotonic: the fitted non-decreasing function through these points
    knots_y: tuple[float, ...] = ()

    def apply(self, p: ArrayLike) -> NDArray[np.float64]:
        p_arr = np.asarray(p, dtype=np.float64)
        if self.method == "platt":
            return expit(self.a + self.b * logit(np.clip(p_arr, EPS, 1 - EPS)))
        return np.interp(p_arr, self.knots_x, self.knots_y)

    def apply_one(self, p: float) -> float:
        """One probability, by the same arithmetic as ``apply`` (so a row scored alone matches its batch)."""
        if self.method == "platt":
            return float(self.apply(np.array([p]))[0])
        xs, ys = self.knots_x, self.knots_y
        if p <= xs[0]:
            return ys[0]
        if p >= xs[-1]:
            return ys[-1]
        j = bisect.bisect_right(xs, p) - 1
        slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
        return slope * (p - xs[j]) + ys[j]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "a": self.a,
            "b": self.b,
            "knots_x": list(self.knots_x),
            "knots_y": list(self.knots_y),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        return cls(d["method"], float(d["a"]), float(d["b"]), tuple(d["knots_x"]), tuple(d["knots_y"]))


def fit_calibrator(y: ArrayLike, p: ArrayLike, method: str, sample_weight: ArrayLike | None = None) -> Calibrator:
    if method not in METHODS:
        raise ParameterError(f"calibration method must be one of {', '.join(METHODS)}, got {method!r}")
    y_arr, p_arr, w = check(y, p, sample_weight)
    if y_arr.min() == y_arr.max():
        raise ParameterError("calibration needs both classes among the held-out labels")
    if method == "platt":
        return _platt(y_arr, p_arr, w)
    return _isotonic(y_arr, p_arr, w)


def _platt(y: NDArray[np.float64], p: NDArray[np.float64], w: NDArray[np.float64]) -> Calibrator:
    z = logit(np.clip(p, EPS, 1 - EPS))
    a, b = 0.0, 1.0
    for _ in range(100):
        q = expit(a + b * z)
        r, h = w * (y - q), w * q * (1 - q)
        hess = np.array([[h.sum(), h @ z], [h @ z, h @ (z * z)]])
        step = np.linalg.lstsq(hess, np.array([r.sum(), r @ z]), rcond=None)[0]
        a, b = a + float(step[0]), b + float(step[1])
        if np.max(np.abs(step)) < 1e-12:
            break
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ParameterError("Platt scaling diverged: the held-out scores separate the classes; use isotonic")
    return Calibrator("platt", a, b)


def _isotonic(y: NDArray[np.float64], p: NDArray[np.float64], w: NDArray[np.float64]) -> Calibrator:
    order = np.argsort(p, kind="mergesort")
    xs, ys, ws = p[order], y[order], w[order]
    # Equal scores are one point (their weighted mean), as scikit-learn merges ties first.
    unique, start = np.unique(xs, return_index=True)
    weight = np.add.reduceat(ws, start)
    mean = np.add.reduceat(ws * ys, start) / weight
    # Pool adjacent violators: a stack of blocks (value, weight, count of points).
    values: list[float] = []
    weights: list[float] = []
    counts: list[int] = []
    for v, wt in zip(mean.tolist(), weight.tolist(), strict=True):
        values.append(v)
        weights.append(wt)
        counts.append(1)
        while len(values) > 1 and values[-2] >= values[-1]:
            v2, w2, c2 = values.pop(), weights.pop(), counts.pop()
            total = weights[-1] + w2
            values[-1] = (values[-1] * weights[-1] + v2 * w2) / total
            weights[-1] = total
            counts[-1] += c2
    fitted = np.repeat(values, counts)
    # Knots: keep the ends of each constant run (interior points of a run add nothing to np.interp).
    keep = np.ones(unique.shape[0], dtype=bool)
    if unique.shape[0] > 2:
        keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return Calibrator("isotonic", knots_x=tuple(map(float, unique[keep])), knots_y=tuple(map(float, fitted[keep])))


@dataclass(frozen=True)
class TemperatureScaler:
    """Multinomial calibration by one temperature: softmax(logits / T). T > 1 softens over-confident
    scores, T < 1 sharpens timid ones; the predicted class never changes."""

    temperature: float

    def apply(self, logits: ArrayLike) -> NDArray[np.float64]:
        z = np.asarray(logits, dtype=np.float64) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def fit_temperature(y: ArrayLike, logits: ArrayLike, sample_weight: ArrayLike | None = None) -> TemperatureScaler:
    """The temperature minimising the (weighted) log loss of held-out ``logits`` (n, K) for labels 0..K-1."""
    from scipy.optimize import minimize_scalar
    from scipy.special import logsumexp

    z = np.asarray(logits, dtype=np.float64)
    y_arr = np.asarray(y).astype(np.int64).ravel()
    if z.ndim != 2 or z.shape[0] != y_arr.shape[0]:
        raise ParameterError(f"logits must be (n_rows, n_classes) with one row per label, got {z.shape}")
    w = np.ones(y_arr.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    picked = z[np.arange(y_arr.shape[0]), y_arr]

    def loss(log_t: float) -> float:
        t = math.exp(log_t)
        return float(w @ (logsumexp(z / t, axis=1) - picked / t))

    best = minimize_scalar(loss, bounds=(-5.0, 5.0), method="bounded", options={"xatol": 1e-10})
    return TemperatureScaler(float(math.exp(best.x)))
