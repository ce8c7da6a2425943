"""Pointwise binomial loss, its derivative and curvature in the linear predictor eta.

For a label y in {0, 1} and linear predictor eta the negative log-likelihood of one row is
    l(eta, y) = log(1 + e^eta) - y * eta,
with derivative  dl/deta = p - y  and second derivative  p (1 - p),  where p = expit(eta).
The three are computed together because they share p, which costs one exp per row.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .link import expit, log1pexp

__all__ = ["binomial_loss", "binomial_loss_gradient", "binomial_loss_gradient_hessian"]


def binomial_loss(eta: NDArray[np.float64], y: NDArray[np.float64], weight: NDArray[np.float64]) -> float:
    """Sum over rows of weight * l(eta, y)."""
    return float(weight @ (log1pexp(eta) - y * eta))


def binomial_loss_gradient(
    eta: NDArray[np.float64], y: NDArray[np.float64], weight: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64]]:
    """(sum of weighted losses, weighted derivative per row)."""
    loss = float(weight @ (log1pexp(eta) - y * eta))
    p = expit(eta)
    return loss, weight * (p - y)


def binomial_loss_gradient_hessian(
    eta: NDArray[np.float64], y: NDArray[np.float64], weight: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """(sum of weighted losses, weighted derivative per row, weighted curvature per row)."""
    loss = float(weight @ (log1pexp(eta) - y * eta))
    p = expit(eta)
    return loss, weight * (p - y), weight * (p * (1.0 - p))


def multinomial_loss_gradient(
    eta: NDArray[np.float64], y: NDArray[np.int64], weight: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Softmax cross-entropy. ``eta`` is (n, K), ``y`` the class index per row.

    Returns (sum of weighted losses, weighted derivative (n, K) = w * (softmax - onehot), softmax (n, K)).
    The log-sum-exp is shifted by the row maximum so no exp overflows.
    """
    shift = eta.max(axis=1, keepdims=True)
    z = eta - shift
    np.exp(z, out=z)
    norm = z.sum(axis=1, keepdims=True)
    log_norm = np.log(norm[:, 0]) + shift[:, 0]
    rows = np.arange(eta.shape[0])
    loss = float(weight @ (log_norm - eta[rows, y]))
    z /= norm
    g = z.copy()
    g[rows, y] -= 1.0
    g *= weight[:, None]
    return loss, g, z
