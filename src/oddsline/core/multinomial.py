"""The multinomial (softmax) objective, gradient and Hessian, on the conventions of ``objective.py``.

Symmetric parametrisation as in scikit-learn: every class k has coefficients ``W[k]`` and an intercept
``b[k]``; ``P(y = k | x) = softmax(W x + b)_k``. The objective is the weighted cross-entropy plus the
penalty on every ``W[k]``, intercepts unpenalised, divided by sum(w) like the binary one.

Shapes: ``y`` is (n,) int class indices in [0, K); ``theta`` is ``[W.ravel() (K*d), b (K)]`` with the
intercepts last, or ``W.ravel()`` alone without an intercept. The linear predictor is (n, K).

Adding the same constant to every intercept (and, unpenalised, the same vector to every W[k]) leaves
the probabilities unchanged, so the Hessian is singular along those directions; solvers handle that
and :func:`center` picks the representative whose intercepts (and unpenalised coefficients) sum to 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .loss import multinomial_loss_gradient
from .objective import BLOCK_ROWS, Matrix, ProblemShape

__all__ = ["MultinomialProblem", "center"]


@dataclass(frozen=True)
class MultinomialProblem(ProblemShape):
    X: Matrix
    y: NDArray[np.int64]
    weight: NDArray[np.float64]
    n_classes: int
    C: float = 1.0
    l1_ratio: float = 0.0
    fit_intercept: bool = True
    total_weight: float = field(init=False)
    _flat_index: NDArray[np.intp] = field(init=False, repr=False, compare=False)
    _unit_weight: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_weight", float(self.weight.sum()))
        object.__setattr__(self, "_flat_index", np.arange(self.y.shape[0]) * self.n_classes + self.y)
        object.__setattr__(self, "_unit_weight", bool(np.all(self.weight == 1.0)))

    def _loss(self, theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
        return multinomial_loss_gradient(
            self.linear_predictor(theta),
            self.y,
            self.weight,
            flat_index=self._flat_index,
            unit_weight=self._unit_weight,
        )

    @property
    def n_params(self) -> int:
        return self.n_classes * (self.n_features + int(self.fit_intercept))

    @property
    def penalised(self) -> NDArray[np.bool_]:
        mask = np.zeros(self.n_params, dtype=bool)
        mask[: self.n_classes * self.n_features] = True
        return mask

    def unpack(self, theta: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        kd = self.n_classes * self.n_features
        W = theta[:kd].reshape(self.n_classes, self.n_features)
        b = theta[kd:] if self.fit_intercept else np.zeros(self.n_classes)
        return W, b

    def linear_predictor(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        W, b = self.unpack(theta)
        return np.asarray(self.X @ W.T) + b

    def penalty(self, theta: NDArray[np.float64]) -> float:
        W, _ = self.unpack(theta)
        value = 0.5 * self.l2 * float(np.sum(W * W))
        if self.l1:
            value += self.l1 * float(np.abs(W).sum())
        return value

    def objective(self, theta: NDArray[np.float64]) -> float:
        loss, _, _ = self._loss(theta)
        return loss / self.total_weight + self.penalty(theta)

    def objective_gradient(self, theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        W, _ = self.unpack(theta)
        loss, g, _ = self._loss(theta)
        scale = 1.0 / self.total_weight
        grad_W = np.asarray(g.T @ self.X) * scale + self.l2 * W
        parts = [grad_W.ravel()]
        if self.fit_intercept:
            parts.append(g.sum(axis=0) * scale)
        return loss * scale + self.penalty(theta), np.concatenate(parts)

    def hessian(self, theta: NDArray[np.float64], index: NDArray[np.intp] | None = None) -> NDArray[np.float64]:
        """Hessian, or its rows/columns ``index`` of theta (computed in full, then cut)."""
        full = self._full_hessian(theta)
        return full if index is None else full[np.ix_(index, index)]

    def _full_hessian(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Full Hessian: block (k, l) is X~^T diag(w p_k (delta_kl - p_l)) X~ / sum(w), X~ = [X, 1]."""
        _, _, prob = self._loss(theta)
        K, d = self.n_classes, self.n_features
        da = d + int(self.fit_intercept)
        H: NDArray[np.float64] = np.zeros((K, da, K, da))
        X = self.X
        for start in range(0, self.n_rows, BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, self.n_rows)
            block = X[start:stop]
            block = cast("sp.csr_matrix", block).toarray() if sp.issparse(block) else block
            if self.fit_intercept:
                block = np.column_stack([block, np.ones(stop - start)])
            p = prob[start:stop]
            w = self.weight[start:stop]
            for k in range(K):
                for m in range(k, K):
                    curvature = w * p[:, k] * ((1.0 if k == m else 0.0) - p[:, m])
                    H[k, :, m, :] += block.T @ (block * curvature[:, None])
        for k in range(K):
            for m in range(k + 1, K):
                H[m, :, k, :] = H[k, :, m, :].T
        H /= self.total_weight
        H = H.reshape(K * da, K * da)
        # Reorder from per-class [W_k, b_k] blocks to the theta layout [W.ravel(), b].
        order = [k * da + j for k in range(K) for j in range(d)]
        if self.fit_intercept:
            order += [k * da + d for k in range(K)]
        H = H[np.ix_(order, order)]
        if self.l2:
            idx = np.arange(K * d)
            H[idx, idx] += self.l2
        return H


def center(problem: MultinomialProblem, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """The equivalent parameters whose intercepts (and, without a penalty, coefficients) sum to zero."""
    W, b = problem.unpack(theta.copy())
    if problem.l2 == 0 and problem.l1 == 0:
        W = W - W.mean(axis=0, keepdims=True)
    parts = [W.ravel()]
    if problem.fit_intercept:
        parts.append(b - b.mean())
    return np.concatenate(parts)
