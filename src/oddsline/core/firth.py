"""Firth's bias-reduced logistic regression (Firth 1993; Heinze and Schemper 2002).

Maximises the penalised log-likelihood  l*(beta) = l(beta) + 1/2 log det I(beta),  I the Fisher
information, which has a finite maximiser even under complete separation. The modified score is
U*(beta) = X~^T ( w (y - p) + h (1/2 - p) ),  h_i the diagonal of the weighted hat matrix; each step
solves I step = U* and halves the step until l* increases (as R's logistf does). The leverages h come
from row blocks of X~ L^-T (L L^T = I), n p^2 flops a step, never an n x n matrix.
"""

from __future__ import annotations

import time
from typing import cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.linalg import LinAlgError, cho_solve, cholesky, solve_triangular

from .link import expit
from .objective import BLOCK_ROWS, Problem
from .solvers.result import SolverResult

__all__ = ["firth_penalised_loglik", "fit_firth"]


def _design_block(problem: Problem, start: int, stop: int) -> NDArray[np.float64]:
    block = problem.X[start:stop]
    block = cast("sp.csr_matrix", block).toarray() if sp.issparse(block) else np.asarray(block)
    if problem.fit_intercept:
        block = np.column_stack([block, np.ones(stop - start)])
    return block


def _information(problem: Problem, theta: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(Fisher information, p) at theta."""
    eta = problem.linear_predictor(theta)
    p = expit(eta)
    curvature = problem.weight * p * (1 - p)
    info = problem.hessian_from_curvature(curvature) * problem.total_weight
    if problem.l2:
        idx = np.arange(problem.n_features)
        info[idx, idx] -= problem.l2 * problem.total_weight
    return info, p


def firth_penalised_loglik(problem: Problem, theta: NDArray[np.float64]) -> float:
    info, _ = _information(problem, theta)
    sign, logdet = np.linalg.slogdet(info)
    if sign <= 0:
        return -np.inf
    eta = problem.linear_predictor(theta)
    loglik = -float(problem.weight @ (np.logaddexp(0.0, eta) - problem.y * eta))
    return loglik + 0.5 * cast(float, logdet)  # slogdet's log-determinant, typed Any by numpy


def fit_firth(
    problem: Problem,
    theta0: NDArray[np.float64],
    *,
    tol: float = 1e-8,
    max_iter: int = 100,
    fixed: dict[int, float] | None = None,
) -> SolverResult:
    """Maximise l*; ``fixed`` pins parameters to values (for profile likelihood). tol is on max |U*| / sum(w)."""
    theta = np.array(theta0, dtype=np.float64)
    free = np.ones(problem.n_params, dtype=bool)
    for j, value in (fixed or {}).items():
        theta[j] = value
        free[j] = False
    result = SolverResult(theta, False, 0, np.inf, np.inf, "firth")
    started = time.perf_counter()
    current = firth_penalised_loglik(problem, theta)
    for iteration in range(max_iter):
        info, p = _information(problem, theta)
        try:
            lower = cholesky(info, lower=True)
        except LinAlgError:
            result.message = "the Fisher information is singular: aliased columns (drop them) or an empty class"
            break
        leverage = _leverages(problem, p, lower)
        score = _modified_score(problem, p, leverage)
        grad_norm = float(np.max(np.abs(score[free]))) / problem.total_weight
        result.n_iter, result.grad_norm, result.objective = iteration, grad_norm, -current
        if grad_norm <= tol:
            result.converged = True
            break
        step = np.zeros_like(theta)
        sub = info[np.ix_(free, free)]
        step[free] = cho_solve((cholesky(sub, lower=True), True), score[free])
        t = 1.0
        for _ in range(30):
            candidate = theta + t * step
            value = firth_penalised_loglik(problem, candidate)
            if value >= current - 1e-12 * abs(current):
                theta, current = candidate, value
                break
            t *= 0.5
        else:
            result.message = "step halving made no progress"
            break
    result.theta = theta
    result.objective = -current
    result.add_time("firth", time.perf_counter() - started)
    return result


def _leverages(problem: Problem, p: NDArray[np.float64], lower: NDArray[np.float64]) -> NDArray[np.float64]:
    curvature = problem.weight * p * (1 - p)
    h = np.empty(problem.n_rows)
    for start in range(0, problem.n_rows, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, problem.n_rows)
        solved = solve_triangular(lower, _design_block(problem, start, stop).T, lower=True)
        h[start:stop] = curvature[start:stop] * np.sum(solved * solved, axis=0)
    return h


def _modified_score(problem: Problem, p: NDArray[np.float64], leverage: NDArray[np.float64]) -> NDArray[np.float64]:
    residual = problem.weight * (problem.y - p) + leverage * (0.5 - p)
    score = np.empty(problem.n_params)
    score[: problem.n_features] = np.asarray(problem.X.T @ residual).ravel()
    if problem.fit_intercept:
        score[-1] = residual.sum()
    return score
