"""Covariance of fitted coefficients, likelihood statistics, aliasing and collinearity diagnostics.

All functions take a problem of ``objective.py`` (binary) and its optimum theta = [beta..., b]. Counts
follow frequency-weight semantics: a weight of 2 is the same row twice (as statsmodels' GLM
freq_weights), so n is sum(w).

Covariances (p = number of parameters, H = Hessian of the penalised negative log-likelihood,
I = Fisher information of the likelihood alone, s_i = score contribution of row i):

- ``nonrobust``: I^-1 unpenalised; for an L2-penalised fit the sandwich H^-1 I H^-1 of the penalised
  estimator (its bias is not in it: the intervals are for the penalised target).
- ``HC0``: H^-1 (sum_i s_i s_i^T) H^-1; ``HC1``: HC0 * n / (n - p), the small-sample factor of R's
  sandwich::vcovHC(type = "HC1") and of Stata's ``robust`` (statsmodels' discrete models return plain HC0
  when asked for HC1, HC2 or HC3); ``HC2`` and ``HC3``: each s_i s_i^T divided by (1 - h_i) and
  (1 - h_i)^2, h_i = w_i p_i (1 - p_i) x_i^T H^-1 x_i the leverage of the weighted fit (R's
  hatvalues(glm)), as sandwich::vcovHC for a glm.
- ``cluster``: H^-1 (sum_g S_g S_g^T) H^-1 * G / (G - 1) * (n - 1) / (n - p), S_g the summed scores of group
  g, as statsmodels' cov_type="cluster".
"""

from __future__ import annotations

import dataclasses
import math
from typing import cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .link import expit
from .objective import BLOCK_ROWS, Matrix, Problem, second_moment

__all__ = [
    "COV_TYPES",
    "aliased_columns",
    "aliased_in_gram",
    "condition_number",
    "covariance",
    "fisher_information",
    "gram_matrix",
    "log_likelihood",
    "null_log_likelihood",
    "penalised_hessian",
    "vif",
]

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")


def fisher_information(problem: Problem, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """X~^T diag(w p (1 - p)) X~, unnormalised, without the penalty."""
    unpenalised = dataclasses.replace(problem, C=math.inf)
    return unpenalised.hessian(theta) * problem.total_weight


def penalised_hessian(
    problem: Problem, theta: NDArray[np.float64], info: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """Hessian of the unnormalised penalised objective (the L2 part; L1 has none): I + (1 - r)/C on
    the coefficients' diagonal. Pass ``info`` to reuse a Fisher information already computed."""
    hess = (fisher_information(problem, theta) if info is None else info).copy()
    idx = np.arange(problem.n_features)
    hess[idx, idx] += problem.l2 * problem.total_weight
    return hess


def gram_matrix(problem: Problem) -> NDArray[np.float64]:
    """X~^T W X~ / sum(w): what aliasing and the condition number are read from (one pass)."""
    return dataclasses.replace(problem, C=math.inf).hessian_from_curvature(problem.weight)


def covariance(
    problem: Problem,
    theta: NDArray[np.float64],
    cov_type: str = "nonrobust",
    groups: NDArray[np.int64] | None = None,
    keep: NDArray[np.intp] | None = None,
) -> NDArray[np.float64]:
    """Covariance of theta (restricted to the parameters ``keep``, the non-aliased ones)."""
    index = np.arange(problem.n_params) if keep is None else keep
    full_info = fisher_information(problem, theta)
    info = full_info[np.ix_(index, index)]
    hess = penalised_hessian(problem, theta, full_info)[np.ix_(index, index)]
    # numpy types inv as floating[Any]; on float64 input it is float64.
    bread = cast("NDArray[np.float64]", np.linalg.inv(hess))
    if cov_type == "nonrobust":
        if problem.l2 == 0:
            return cast("NDArray[np.float64]", np.linalg.inv(info))
        return bread @ info @ bread
    leverage_power = {"HC2": 1, "HC3": 2}.get(cov_type, 0)
    scores_meat, n_groups = _meat(
        problem,
        theta,
        index,
        groups if cov_type == "cluster" else None,
        bread if leverage_power else None,
        leverage_power,
    )
    cov = bread @ scores_meat @ bread
    n, p = problem.total_weight, index.shape[0]
    if cov_type == "HC1":
        cov *= n / (n - p)
    elif cov_type == "cluster":
        cov *= n_groups / (n_groups - 1) * (n - 1) / (n - p)
    return cov


def _meat(
    problem: Problem,
    theta: NDArray[np.float64],
    index: NDArray[np.intp],
    groups: NDArray[np.int64] | None,
    bread: NDArray[np.float64] | None = None,
    leverage_power: int = 0,
) -> tuple[NDArray[np.float64], int]:
    """sum_i s_i s_i^T (or over group sums), built in row blocks so no n x p matrix is formed; with
    ``bread`` (H^-1) each term is divided by (1 - h_i) ** ``leverage_power`` (HC2, HC3)."""
    eta = problem.linear_predictor(theta)
    prob = expit(eta)
    residual = problem.weight * (problem.y - prob)
    curvature = problem.weight * prob * (1.0 - prob)
    d = problem.n_features
    columns = index[index < d]
    with_intercept = problem.fit_intercept and bool(np.any(index == d))
    p = index.shape[0]
    X = problem.X
    if groups is not None:
        labels, codes = np.unique(groups, return_inverse=True)
        sums = np.zeros((labels.shape[0], p))
    meat = np.zeros((p, p))
    for start in range(0, problem.n_rows, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, problem.n_rows)
        block = X[start:stop][:, columns]
        block = cast("sp.csr_matrix", block).toarray() if sp.issparse(block) else block
        if with_intercept:
            block = np.column_stack([block, np.ones(stop - start)])
        scores = block * residual[start:stop, None]
        if bread is not None:
            leverage = curvature[start:stop] * np.einsum("ij,jk,ik->i", block, bread, block)
            scores = scores / np.sqrt(np.maximum(1.0 - leverage, 1e-12) ** leverage_power)[:, None]
        if groups is None:
            # Frequency weights: a row of weight w stands for w rows whose scores are residual/w each.
            meat += scores.T @ (
                scores / np.where(problem.weight[start:stop] > 0, problem.weight[start:stop], 1.0)[:, None]
            )
        else:
            np.add.at(sums, codes[start:stop], scores)
    if groups is not None:
        return sums.T @ sums, int(labels.shape[0])
    return meat, 0


def log_likelihood(problem: Problem, theta: NDArray[np.float64]) -> float:
    eta = problem.linear_predictor(theta)
    return -float(problem.weight @ (np.logaddexp(0.0, eta) - problem.y * eta))


def null_log_likelihood(problem: Problem) -> float:
    """Log-likelihood of the intercept-only model (or of p = 1/2 everywhere without an intercept)."""
    w, y = problem.weight, problem.y
    if not problem.fit_intercept:
        return -float(w.sum()) * math.log(2.0)
    rate = float(w @ y / w.sum())
    if rate in (0.0, 1.0):
        return 0.0
    return float(w @ y) * math.log(rate) + float(w @ (1 - y)) * math.log(1 - rate)


def aliased_columns(
    problem: Problem,
    tol: float = 1e-9,
    gram: NDArray[np.float64] | None = None,
    prefer: tuple[int, ...] | NDArray[np.intp] = (),
) -> NDArray[np.intp]:
    """Parameters that are exact linear combinations of earlier ones (R's NA coefficients).

    Ordered elimination on the correlation-scaled Gram matrix of [X, 1], the intercept first, so that
    (as in R) the later of two dependent columns is reported: a full one-hot block loses its last
    level, never the intercept. Columns in ``prefer`` are examined last, so they are the ones reported
    when they take part in a dependency: a categorical column's reference level (treatment coding, as
    R's contr.treatment drops the first level).
    """
    gram = gram_matrix(problem) if gram is None else gram
    return aliased_in_gram(gram, problem.n_features if problem.fit_intercept else None, prefer, tol)


def aliased_in_gram(
    gram: NDArray[np.float64],
    intercept: int | None,
    prefer: tuple[int, ...] | NDArray[np.intp] = (),
    tol: float = 1e-9,
) -> NDArray[np.intp]:
    """``aliased_columns`` on any positively weighted Gram matrix (X^T W X, a Fisher information) of
    the parameters; ``intercept`` is its index (examined first) or None."""
    p = gram.shape[0]
    last = [int(j) for j in prefer if int(j) != intercept]
    first = [] if intercept is None else [intercept]
    order = np.array(first + [j for j in range(p) if j != intercept and j not in set(last)] + last, dtype=np.intp)
    gram = gram[np.ix_(order, order)]
    scale = np.sqrt(np.maximum(np.diag(gram), 1e-300))
    scaled = gram / np.outer(scale, scale)
    zero = np.diag(gram) <= 1e-300  # an all-zero column is aliased with everything
    aliased = []
    basis: list[int] = []
    for j in range(p):
        if zero[j]:
            aliased.append(order[j])
            continue
        if basis:
            sub = scaled[np.ix_(basis, basis)]
            coef = np.linalg.solve(sub, scaled[basis, j])
            residual = scaled[j, j] - scaled[basis, j] @ coef
        else:
            residual = scaled[j, j]
        if residual <= tol:
            aliased.append(order[j])
        else:
            basis.append(j)
    return np.array(sorted(aliased), dtype=np.intp)


def vif(
    X: Matrix, weight: NDArray[np.float64] | None = None, gram: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """Variance inflation factor of each column: the diagonal of the inverse correlation matrix.

    Read from the weighted second moments of [X, 1] (``gram``, as ``gram_matrix`` of a problem with
    an intercept gives them; computed in row blocks when not given): cov = E[x x'] - E[x] E[x]'. No
    centred copy of X is made.
    """
    d = X.shape[1]
    w = np.ones(X.shape[0]) if weight is None else weight
    if gram is None or gram.shape[0] != d + 1:
        gram = second_moment(X, w, fit_intercept=True)
    mean = gram[:d, d]
    centred_cov = gram[:d, :d] - np.outer(mean, mean)
    sd = np.sqrt(np.maximum(np.diag(centred_cov), 0.0))
    out = np.full(d, np.inf)
    # A column constant up to rounding has no variance to inflate: report inf, as for an exact constant.
    ok = sd > 1e-12 * np.maximum(np.abs(mean), 1.0)
    corr = centred_cov[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    out[ok] = np.diag(np.linalg.pinv(corr))
    return out


def condition_number(problem: Problem, gram: NDArray[np.float64] | None = None) -> float:
    """Condition number of [X, 1] with columns scaled to unit length (Belsley, Kuh and Welsch)."""
    gram = gram_matrix(problem) if gram is None else gram
    scale = np.sqrt(np.maximum(np.diag(gram), 1e-300))
    values = np.linalg.eigvalsh(gram / np.outer(scale, scale))
    return float(np.sqrt(values.max() / max(values.min(), 1e-300)))
