"""Wide designs (more columns than rows): solve in the n-dimensional row space of X, then map back.

With an L2 share in the penalty every optimal coefficient vector lies in the row space of X (the
gradient of the loss is X^T g, and stationarity gives beta = -X^T g / l2). Write X = L Q^T with
L L^T = X X^T (Cholesky of the n x n Gram matrix) and Q = X^T L^-T, whose columns are orthonormal.
Then beta = Q gamma, X beta = L gamma and ||beta|| = ||gamma||: the same problem with the n x n design
L instead of the n x d design X. Building it costs one Gram product (n^2 d flops); each L-BFGS
iteration then reads n^2 numbers instead of n d. Pure L1 has no such property and is not reduced.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_triangular

__all__ = ["RowSpace"]


class RowSpace:
    """The reduced problem and the maps between its parameters (gamma) and the original ones (theta)."""

    def __init__(self, problem: Any) -> None:
        X = problem.X
        gram = X @ X.T
        try:
            self.lower = np.linalg.cholesky(gram)  # numpy's: it runs on the threads that built the Gram
        except np.linalg.LinAlgError:
            raise ValueError("the rows of X are linearly dependent; the row-space reduction does not apply") from None
        if not np.all(np.isfinite(self.lower)) or np.min(np.abs(np.diag(self.lower))) < 1e-10 * np.max(
            np.abs(np.diag(self.lower))
        ):
            raise ValueError("the Gram matrix of X is numerically singular; the row-space reduction does not apply")
        self.X = X
        self.n_classes = int(getattr(problem, "n_classes", 1))
        self.d = problem.n_features
        self.n = problem.n_rows
        self.fit_intercept = bool(problem.fit_intercept)
        self.problem = dataclasses.replace(problem, X=np.ascontiguousarray(self.lower))

    def _split(self, flat: NDArray[np.float64], width: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        K = self.n_classes
        return flat[: K * width].reshape(K, width), flat[K * width :]

    def to_theta(self, gamma: NDArray[np.float64]) -> NDArray[np.float64]:
        G, b = self._split(gamma, self.n)
        # beta_k = Q gamma_k = X^T L^-T gamma_k
        B = (self.X.T @ solve_triangular(self.lower, G.T, lower=True, trans="T")).T
        return np.concatenate([B.ravel(), b])

    def to_gamma(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        B, b = self._split(theta, self.d)
        # gamma_k = Q^T beta_k = L^-1 X beta_k (the projection of beta_k on the row space)
        G = solve_triangular(self.lower, self.X @ B.T, lower=True).T
        return np.concatenate([G.ravel(), b])
