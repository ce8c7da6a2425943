"""The penalised logistic-regression objective, its gradient and Hessian.

Objective (the one convention of oddsline, as in scikit-learn)::

    F(beta, b) = sum_i w_i * l(x_i . beta + b, y_i)
                 + (1 / C) * ( (1 - l1_ratio) / 2 * ||beta||_2^2 + l1_ratio * ||beta||_1 )

The intercept ``b`` is never penalised. ``C = inf`` means no penalty. Solvers work on F / sum(w), which
has the same minimiser but makes tolerances independent of the number of rows.

Shape conventions (written here once; every module of ``core`` follows them)
-------------------------------------------------------------------------------
- ``X``: (n, d) float64, C-contiguous numpy array, or scipy.sparse CSR; it never includes an
  intercept column.
- ``y``: (n,) float64 with values 0.0 / 1.0 (binary).
- ``weight``: (n,) float64, non-negative; all ones when the user gives none.
- ``offset``: (n,) float64 or None, a fixed term added to the linear predictor.
- ``theta``: the packed parameter vector the solvers move, (d + 1,) as ``[beta..., b]`` when the
  problem has an intercept, else (d,). ``unpack`` splits it.
- Row blocks of ``BLOCK_ROWS`` bound every temporary to BLOCK_ROWS x d, never n x d.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TypeAlias, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .link import expit
from .loss import binomial_loss_gradient
from .one_hot import COMPILED as ONE_HOT_COMPILED
from .one_hot import one_hot_codes, one_hot_rows

__all__ = ["BLOCK_ROWS", "Problem", "second_moment", "unpack"]

# 4096 rows x 200 columns x 8 bytes = 6.5 MB: large enough that BLAS runs at full speed, small enough
# to stay in the last-level cache next to the Hessian.
BLOCK_ROWS = 4096

Matrix: TypeAlias = NDArray[np.float64] | sp.csr_matrix


class ProblemShape:
    """What every problem derives from its data and penalty (binary here, softmax in multinomial.py)."""

    X: Matrix
    C: float
    l1_ratio: float
    total_weight: float

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def l2(self) -> float:
        """Coefficient of ||beta||^2 / 2 in the normalised objective."""
        if math.isinf(self.C):
            return 0.0
        return (1.0 - self.l1_ratio) / (self.C * self.total_weight)

    @property
    def l1(self) -> float:
        """Coefficient of ||beta||_1 in the normalised objective."""
        if math.isinf(self.C):
            return 0.0
        return self.l1_ratio / (self.C * self.total_weight)


@dataclass(frozen=True)
class Problem(ProblemShape):
    """The fixed part of a fit: data, weights and penalty, validated once, never mutated by a solver."""

    X: Matrix
    y: NDArray[np.float64]
    weight: NDArray[np.float64]
    C: float = 1.0
    l1_ratio: float = 0.0
    fit_intercept: bool = True
    offset: NDArray[np.float64] | None = None  # added to every linear predictor, never fitted
    total_weight: float = field(init=False)
    _memo: _DataTerms = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_weight", float(self.weight.sum()))
        object.__setattr__(self, "_memo", _DataTerms())

    def with_penalty(self, C: float) -> Problem:
        """The same data under another C. The data terms at the last theta carry over: a warm-started
        path point begins where the previous one ended, so its first gradient costs no pass over X."""
        other = replace(self, C=float(C))
        object.__setattr__(other, "_memo", self._memo)
        return other

    @property
    def n_params(self) -> int:
        return self.n_features + int(self.fit_intercept)

    @property
    def penalised(self) -> NDArray[np.bool_]:
        """Which entries of theta the penalty applies to (all but the intercept)."""
        mask = np.ones(self.n_params, dtype=bool)
        if self.fit_intercept:
            mask[-1] = False
        return mask

    # -- pieces of the objective --------------------------------------------------------------

    def linear_predictor(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        beta, b = unpack(theta, self.fit_intercept)
        eta = np.asarray(self.X @ beta, dtype=np.float64)
        if b != 0.0:
            eta += b
        if self.offset is not None:
            eta += self.offset
        return eta

    def penalty(self, theta: NDArray[np.float64]) -> float:
        beta, _ = unpack(theta, self.fit_intercept)
        value = 0.5 * self.l2 * float(beta @ beta)
        if self.l1:
            value += self.l1 * float(np.abs(beta).sum())
        return value

    def _terms(self, theta: NDArray[np.float64]) -> _DataTerms:
        """eta, loss and dloss/deta at theta, remembered for the last theta asked about: solvers ask for
        the gradient, then the Hessian, at the same point, and a line search's accepted candidate is
        the next iterate; each repeat would otherwise cost a pass over X."""
        memo = self._memo
        if memo.theta is None or not np.array_equal(memo.theta, theta):
            eta = self.linear_predictor(theta)
            loss, g_eta = binomial_loss_gradient(eta, self.y, self.weight)
            memo.theta, memo.eta, memo.loss, memo.g_eta, memo.xtg = theta.copy(), eta, loss, g_eta, None
        return memo

    def objective(self, theta: NDArray[np.float64]) -> float:
        """Normalised objective F(theta) / sum(w)."""
        return self._terms(theta).loss / self.total_weight + self.penalty(theta)

    def objective_gradient(self, theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        """Normalised objective and the gradient of its smooth part (the L1 term is left to the solver)."""
        terms = self._terms(theta)
        if terms.xtg is None:
            terms.xtg = np.asarray(self.X.T @ terms.g_eta, dtype=np.float64).ravel()
        beta, _ = unpack(theta, self.fit_intercept)
        scale = 1.0 / self.total_weight
        grad = np.empty(self.n_params)
        grad[: self.n_features] = terms.xtg * scale + self.l2 * beta
        if self.fit_intercept:
            grad[-1] = terms.g_eta.sum() * scale
        return terms.loss * scale + self.penalty(theta), grad

    def objective_gradient_hessian(
        self, theta: NDArray[np.float64]
    ) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
        """Normalised objective, smooth gradient and Hessian (dense, (n_params, n_params))."""
        f, grad = self.objective_gradient(theta)
        return f, grad, self.hessian(theta)

    def hessian(self, theta: NDArray[np.float64], index: NDArray[np.intp] | None = None) -> NDArray[np.float64]:
        """Hessian of the normalised objective, or only its rows/columns ``index`` of theta.

        The restricted form costs n k^2 for k indices instead of n p^2: coordinate descent with a small
        working set never pays for the columns it is not moving.
        """
        eta = self._terms(theta).eta
        p = expit(eta)
        h_eta = self.weight * (p * (1.0 - p))
        if index is None:
            return self.hessian_from_curvature(h_eta)
        d = self.n_features
        columns = np.asarray(index[index < d])
        with_intercept = self.fit_intercept and bool(np.any(index == d))
        hess = self.hessian_from_curvature(h_eta, columns, with_intercept)
        memo = self._memo
        memo.hessian_index = np.array(index)
        memo.data_hessian = hess.copy()
        if self.l2:
            at = np.arange(columns.shape[0])
            memo.data_hessian[at, at] -= self.l2
        return hess

    @property
    def recent_hessian_index(self) -> NDArray[np.intp] | None:
        """The theta indices (ascending) of the last restricted Hessian built on this data, if any."""
        return self._memo.hessian_index

    def recent_hessian(self, index: NDArray[np.intp]) -> NDArray[np.float64] | None:
        """The last restricted Hessian built on this data, cut to ``index`` (ascending) and with this
        problem's L2 term; None unless it covers ``index``.

        It may come from another theta and another C: the previous point of a path, close to this one,
        so its curvature serves this point's first proximal Newton step (the KKT test still judges the
        result, and a step it misleads gets a fresh Hessian).
        """
        known = self._memo.hessian_index
        if known is None:
            return None
        at = np.minimum(np.searchsorted(known, index), known.shape[0] - 1)
        if np.any(known[at] != index):
            return None
        hess = np.asfortranarray(self._memo.data_hessian[np.ix_(at, at)])
        if self.l2:
            features = np.flatnonzero(index < self.n_features)
            hess[features, features] += self.l2
        return hess

    def hessian_from_curvature(
        self,
        h_eta: NDArray[np.float64],
        columns: NDArray[np.intp] | None = None,
        with_intercept: bool | None = None,
    ) -> NDArray[np.float64]:
        """X~^T diag(h) X~ / sum(w) + l2 * I (intercept unpenalised), X~ = [X[:, columns], 1].

        Dense X: accumulated from sqrt(h) * X in row blocks, so no n x d temporary is made.
        """
        X = self.X
        if columns is not None:
            X = X[:, columns] if sp.issparse(X) else X
        d = self.n_features if columns is None else len(columns)
        intercept = self.fit_intercept if with_intercept is None else with_intercept
        size = d + int(intercept)
        hess = np.zeros((size, size), order="F")
        xh = np.zeros(d)
        if sp.issparse(X):
            hess[:d, :d] = self._sparse_gram(X, h_eta, columns)
            xh = np.asarray(X.T @ h_eta).ravel()
        else:
            xtx = np.zeros((d, d))
            for start in range(0, X.shape[0], BLOCK_ROWS):
                stop = min(start + BLOCK_ROWS, X.shape[0])
                h_block = h_eta[start:stop]
                block = X[start:stop] if columns is None else X[start:stop, columns]
                scaled = block * np.sqrt(h_block)[:, None]
                # GEMM rather than SYRK: scipy's SYRK runs on a second OpenBLAS whose threads fight
                # numpy's, and measured slower here than numpy's GEMM despite half the flops.
                xtx += scaled.T @ scaled
                if intercept:
                    xh += h_block @ block
            hess[:d, :d] = xtx
        if intercept:
            hess[:d, d] = xh
            hess[d, :d] = xh
            hess[d, d] = h_eta.sum()
        hess /= self.total_weight
        if self.l2:
            idx = np.arange(d)
            hess[idx, idx] += self.l2
        return hess

    def _sparse_gram(
        self, X: sp.csr_matrix, h_eta: NDArray[np.float64], columns: NDArray[np.intp] | None
    ) -> NDArray[np.float64]:
        """X^T diag(h) X for a CSR X (already cut to ``columns``), with its dense columns apart.

        A sparse product costs about (non-zeros per row)^2 per row, so the few columns that are
        non-zero in most rows (the numeric ones beside one-hot blocks) cost the most there; they are
        multiplied as a dense n x k block instead (measured on flights: 92 ms instead of 166 ms).
        """
        dense_at, dense_block = self._dense_columns(columns)
        codes = self._one_hot_codes() if columns is None else None
        if dense_at.size == 0 and codes is None:
            return (X.T @ sp.diags(h_eta) @ X).toarray()  # type: ignore[no-any-return]
        sparse_at = np.setdiff1d(np.arange(X.shape[1]), dense_at)
        gram = np.empty((X.shape[1], X.shape[1]))
        scaled = dense_block * h_eta[:, None]
        if codes is not None:
            # The rest are one-hot blocks: their rows from the level codes (core/one_hot.py).
            cross, pairs = one_hot_rows(codes, sparse_at.size, dense_block, h_eta)
            gram[np.ix_(sparse_at, sparse_at)] = pairs
        else:
            rest = X[:, sparse_at]
            gram[np.ix_(sparse_at, sparse_at)] = (rest.T @ sp.diags(h_eta) @ rest).toarray()
            cross = np.asarray(rest.T @ scaled)
        gram[np.ix_(sparse_at, dense_at)] = cross
        gram[np.ix_(dense_at, sparse_at)] = cross.T
        gram[np.ix_(dense_at, dense_at)] = dense_block.T @ scaled
        return gram

    def _one_hot_codes(self) -> NDArray[np.int32] | None:
        """The level codes of the CSR columns apart from the dense ones, when they are one-hot blocks
        (``one_hot_codes``); found once per data set, and only where the compiled loop is built."""
        memo = self._memo
        if memo.one_hot is None:
            dense_at, _ = self._dense_columns(None)
            rest = self.X[:, np.setdiff1d(np.arange(self.X.shape[1]), dense_at)]
            found = one_hot_codes(rest) if ONE_HOT_COMPILED else None
            memo.one_hot = (found,)
        return memo.one_hot[0]

    def _dense_columns(self, columns: NDArray[np.intp] | None) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """(positions within ``columns`` of the CSR columns non-zero in over half the rows, those columns
        as a dense (n, k) array). Found and densified once per data set: the memo keeps them."""
        memo = self._memo
        if memo.dense_columns is None:
            X = cast("sp.csr_matrix", self.X)  # reached only for a CSR X, via _sparse_gram
            counts = X.getnnz(axis=0)
            memo.dense_columns = np.flatnonzero(counts > _DENSE_COLUMN_SHARE * X.shape[0])
            memo.dense_block = np.asarray(X[:, memo.dense_columns].toarray(), order="C")
        if columns is None:
            return memo.dense_columns, memo.dense_block
        at, picked = np.nonzero(columns[:, None] == memo.dense_columns[None, :])
        return at, memo.dense_block[:, picked]


# A CSR column non-zero in more than this share of rows is multiplied as dense (see _sparse_gram).
_DENSE_COLUMN_SHARE = 0.5


@dataclass
class _DataTerms:
    """The data part of the objective at one theta (see Problem._terms)."""

    theta: NDArray[np.float64] | None = None
    eta: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    loss: float = 0.0
    g_eta: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    xtg: NDArray[np.float64] | None = None
    # The last restricted Hessian's data part (no L2 term) and the theta indices it covers; it outlives
    # theta changes on purpose (see Problem.recent_hessian).
    hessian_index: NDArray[np.intp] | None = None
    data_hessian: NDArray[np.float64] = field(default_factory=lambda: np.empty((0, 0)))
    # A sparse X's mostly-non-zero columns, densified (see Problem._sparse_gram); fixed with the data.
    dense_columns: NDArray[np.intp] | None = None
    dense_block: NDArray[np.float64] = field(default_factory=lambda: np.empty((0, 0)))
    # The codes of the other columns when they are one-hot blocks, (None,) when not; fixed with the data.
    one_hot: tuple[NDArray[np.int32] | None] | None = None


def second_moment(X: Matrix, weight: NDArray[np.float64], fit_intercept: bool) -> NDArray[np.float64]:
    """Weighted second-moment matrix of [X, 1] (or X): X~^T diag(w) X~ / sum(w), built in row blocks."""
    problem = Problem(X, np.zeros(X.shape[0]), weight, C=math.inf, fit_intercept=fit_intercept)
    return problem.hessian_from_curvature(weight)


def unpack(theta: NDArray[np.float64], fit_intercept: bool) -> tuple[NDArray[np.float64], float]:
    """Split the packed vector into (beta, intercept)."""
    if fit_intercept:
        return theta[:-1], float(theta[-1])
    return theta, 0.0
