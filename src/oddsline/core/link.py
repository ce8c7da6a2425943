"""Numerically stable logistic link functions.

``expit`` never overflows and ``log1pexp`` (the softplus, log(1 + e^x)) is exact for large |x|, which
is what the binomial loss needs when a linear predictor reaches hundreds during a diverging fit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit as _expit

__all__ = ["expit", "log1pexp", "logit"]


def expit(eta: NDArray[np.float64], out: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """1 / (1 + exp(-eta)), elementwise, without overflow."""
    return _expit(eta, out=out)  # type: ignore[no-any-return]


def log1pexp(eta: NDArray[np.float64], out: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """log(1 + exp(eta)) elementwise; logaddexp(0, x) is exact for large |x| (no overflow, no cancellation)."""
    return np.logaddexp(0.0, eta, out=out)


def logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """log(p / (1 - p)); p = 0 or 1 give -inf or +inf."""
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)  # type: ignore[no-any-return]
