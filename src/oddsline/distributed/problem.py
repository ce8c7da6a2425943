"""The objective of a fit whose rows stay in storage: each new theta costs one pass over the source.

It answers what ``core/solvers/newton.py`` asks of a ``Problem`` (objective, gradient, Hessian), from the
sums one pass returns (``kernel.py``). A pass computes the Hessian along with the gradient: reading and
encoding the rows costs more than the d x d products, and Newton asks for the Hessian at nearly every
point it accepts. Aliased columns (an unpenalised fit's reference levels and exact dependencies) are
left out of theta: the solver moves the identified coefficients only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from .kernel import Sums

__all__ = ["StreamedProblem"]


class StreamedProblem:
    fit_intercept = True
    l1_ratio = 0.0
    l1 = 0.0

    def __init__(
        self,
        evaluate: Callable[[NDArray[np.float64]], Sums],
        *,
        n_features: int,
        total_weight: float,
        n_rows: int,
        C: float,
        keep: NDArray[np.intp] | None = None,
    ) -> None:
        self._evaluate = evaluate
        self.total_weight = total_weight
        self.C = C
        self._rows = n_rows
        self.d_full = n_features
        # Indices of the full theta ([beta..., intercept]) the solver moves; the intercept is always kept.
        self.keep = np.arange(n_features + 1) if keep is None else np.asarray(keep, dtype=np.intp)
        self._memo: tuple[NDArray[np.float64], Sums] | None = None
        self.passes = 0

    @property
    def n_rows(self) -> int:
        return self._rows

    @property
    def n_params(self) -> int:
        return int(self.keep.size)

    @property
    def n_features(self) -> int:
        return self.n_params - 1

    @property
    def l2(self) -> float:
        return 0.0 if math.isinf(self.C) else 1.0 / (self.C * self.total_weight)

    def full_theta(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        full = np.zeros(self.d_full + 1)
        full[self.keep] = theta
        return full

    def sums(self, theta: NDArray[np.float64]) -> Sums:
        if self._memo is None or not np.array_equal(self._memo[0], theta):
            self._memo = (theta.copy(), self._evaluate(self.full_theta(theta)))
            self.passes += 1
        return self._memo[1]

    def objective_gradient(self, theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        sums = self.sums(theta)
        beta = theta[:-1]
        grad = sums.gradient[self.keep] / self.total_weight
        grad[:-1] += self.l2 * beta
        return sums.loss / self.total_weight + 0.5 * self.l2 * float(beta @ beta), grad

    def hessian(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        sums = self.sums(theta)
        assert sums.hessian is not None
        hess = np.asfortranarray(sums.hessian[np.ix_(self.keep, self.keep)] / self.total_weight)
        idx = np.arange(self.n_params - 1)
        hess[idx, idx] += self.l2
        return hess
