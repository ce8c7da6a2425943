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

    def __init__(
        self,
        evaluate: Callable[[NDArray[np.float64], bool], Sums],
        *,
        n_features: int,
        total_weight: float,
        n_rows: int,
        C: float,
        l1_ratio: float = 0.0,
        keep: NDArray[np.intp] | None = None,
        hessians: bool = True,
    ) -> None:
        self._evaluate = evaluate
        self.total_weight = total_weight
        self.C = C
        self.l1_ratio = l1_ratio
        # Compute the Hessian in every pass (Newton, CD) or never (L-BFGS on a wide design).
        self.hessians = hessians
        # Newton then takes a fresh factor at every iterate (core/solvers/newton.py).
        self.hessian_with_gradient = hessians
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
        return 0.0 if math.isinf(self.C) else (1.0 - self.l1_ratio) / (self.C * self.total_weight)

    @property
    def l1(self) -> float:
        return 0.0 if math.isinf(self.C) else self.l1_ratio / (self.C * self.total_weight)

    @property
    def penalised(self) -> NDArray[np.bool_]:
        mask = np.ones(self.n_params, dtype=bool)
        mask[-1] = False
        return mask

    def full_theta(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        full = np.zeros(self.d_full + 1)
        full[self.keep] = theta
        return full

    def remember(self, theta: NDArray[np.float64], sums: Sums) -> None:
        """Sums already computed at theta (the first pass): the solver's first request costs no pass."""
        self._memo = (theta.copy(), sums)

    def sums(self, theta: NDArray[np.float64], hessian: bool | None = None) -> Sums:
        need = self.hessians if hessian is None else hessian
        memo = self._memo
        if memo is None or not np.array_equal(memo[0], theta) or (need and memo[1].hessian is None):
            self._memo = (theta.copy(), self._evaluate(self.full_theta(theta), need))
            self.passes += 1
        assert self._memo is not None
        return self._memo[1]

    def penalty(self, theta: NDArray[np.float64]) -> float:
        beta = theta[:-1]
        return 0.5 * self.l2 * float(beta @ beta) + self.l1 * float(np.abs(beta).sum())

    def objective(self, theta: NDArray[np.float64]) -> float:
        return self.sums(theta).loss / self.total_weight + self.penalty(theta)

    def objective_gradient(self, theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        """The objective (its L1 part included) and the gradient of its smooth part."""
        sums = self.sums(theta)
        grad = sums.gradient[self.keep] / self.total_weight
        grad[:-1] += self.l2 * theta[:-1]
        return sums.loss / self.total_weight + self.penalty(theta), grad

    def hessian(self, theta: NDArray[np.float64], index: NDArray[np.intp] | None = None) -> NDArray[np.float64]:
        """Hessian of the smooth part (L2 included), or its rows and columns ``index`` of theta."""
        sums = self.sums(theta, hessian=True)
        assert sums.hessian is not None
        hess = sums.hessian[np.ix_(self.keep, self.keep)] / self.total_weight
        idx = np.arange(self.n_params - 1)
        hess[idx, idx] += self.l2
        if index is not None:
            hess = hess[np.ix_(index, index)]
        return np.asfortranarray(hess)
