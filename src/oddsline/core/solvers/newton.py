"""Newton's method (IRLS) with a Cholesky solve, Armijo backtracking, and Hessian reuse.

The method for n >> d. A gradient costs two passes over X; a Hessian costs a pass plus n d^2 flops,
several times more. Far from the optimum every step gets a fresh Hessian (damped Newton). Close to it
the Hessian hardly changes, so its Cholesky factor is reused for as long as each step still shrinks
the gradient at least fourfold (a chord step: linear convergence at a rate set by how far the Hessian
has moved); when a step fails that test, the next one is built on a fresh Hessian. On the 327k x 164
flights problem this needs 2-3 Hessians instead of 5 for the same final gradient.

Far from the optimum (the damped phase, where each step cuts the gradient only two- to fourfold) a
step is limited by how non-quadratic the objective is, not by how exact the Hessian is: there the
Hessian is built from every k-th row (reweighted to the full total weight), at 1/k of the cost. Once a
step contracts the gradient faster than the damped phase can, the full Hessian takes over for the
quadratic finish. Convergence is always judged on the full gradient.

A problem whose every pass yields the Hessian with the gradient (a fit streamed from storage) gets a fresh
factor at every iterate instead: reuse would save nothing there and cost passes.

Smooth penalties only (L2 or none); L1 goes to the CD solver.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Protocol, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.linalg import solve_triangular

from ..objective import Problem
from .result import SolverResult

__all__ = ["fit_newton"]

_ARMIJO = 1e-4
_MAX_HALVINGS = 40
# A reused Hessian factor must cut max |gradient| by at least this factor per step, else refresh it.
_REUSE_CONTRACTION = 0.25
# A sampled Hessian uses about this many rows (at least 50 per parameter); below 4x that, no sampling.
_SAMPLE_ROWS = 20_000
_SAMPLE_ROWS_PER_PARAM = 50
# Rows a column must be non-zero in, within the sample, for the sampled curvature to be trusted.
_MIN_SUPPORT = 30
# A sampled-Hessian step contracting the gradient below this is in Newton's fast phase: go full.
_SAMPLED_CONTRACTION = 0.2

Solve = Callable[[NDArray[np.float64]], NDArray[np.float64]]


class SmoothProblem(Protocol):
    """What Newton needs of a problem: Problem, MultinomialProblem, or a streamed one (distributed/)."""

    def objective_gradient(self, theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]: ...

    def hessian(self, theta: NDArray[np.float64]) -> NDArray[np.float64]: ...


def fit_newton(
    problem: SmoothProblem, theta0: NDArray[np.float64], *, tol: float = 1e-8, max_iter: int = 100
) -> SolverResult:
    """Minimise the normalised objective; converged when max |gradient| <= tol."""
    theta = np.array(theta0, dtype=np.float64)
    result = SolverResult(theta, False, 0, np.inf, np.inf, "newton")
    n_gradients = [1]  # a list so the line search can count into it
    t0 = time.perf_counter()
    f, grad = problem.objective_gradient(theta)
    result.add_time("gradient", time.perf_counter() - t0)
    solve: Solve | None = None
    fresh = False  # the factor was built at the current iterate
    singular = False
    n_hessians = n_sampled = 0
    # A problem streamed from storage (distributed/) has no rows in memory to sample from.
    sample = _row_sample(problem) if isinstance(problem, Problem) else None
    # Where every gradient comes with its Hessian (a pass over storage computes both), a reused factor
    # saves nothing and its chord steps converge linearly: refresh it at every iterate.
    refresh = bool(getattr(problem, "hessian_with_gradient", False))
    for iteration in range(max_iter):
        grad_norm = float(np.max(np.abs(grad)))
        result.objective, result.grad_norm, result.n_iter = f, grad_norm, iteration
        if grad_norm <= tol:
            result.converged = True
            break
        sampled = sample is not None
        if solve is None or sampled:
            t0 = time.perf_counter()
            hess = (sample or problem).hessian(theta)
            result.add_time("hessian", time.perf_counter() - t0)
            t0 = time.perf_counter()
            solve, was_singular = _factorise(hess)
            singular |= was_singular and not sampled
            n_sampled += sampled
            n_hessians += not sampled
            fresh = True
            result.add_time("factorise", time.perf_counter() - t0)
        step = solve(-grad)
        t0 = time.perf_counter()
        found = _line_search(problem, theta, f, grad, step, n_gradients)
        result.add_time("line_search", time.perf_counter() - t0)
        if sampled and (found is None or not found[3] or np.max(np.abs(found[2])) < _SAMPLED_CONTRACTION * grad_norm):
            # A fast step means the local phase has begun; a failed or backtracked one that the sample
            # misjudges the curvature (a rare column): either way the full Hessian takes over.
            sample = solve = None
            if found is None:
                continue
        if found is None:
            if fresh:
                # A fresh Hessian gives no representable decrease: at the optimum to float64 precision.
                result.converged = grad_norm <= max(tol, 1e-6)
                result.message = "line search made no further progress at float64 precision"
                break
            solve = None
            continue
        theta, f, new_grad, full_step = found
        fresh = False
        if refresh or not full_step or float(np.max(np.abs(new_grad))) > _REUSE_CONTRACTION * grad_norm:
            solve = None
        grad = new_grad
    else:
        result.objective, result.grad_norm, result.n_iter = f, float(np.max(np.abs(grad))), max_iter
    result.theta = theta
    result.counts["hessians"] = n_hessians
    result.counts["sampled_hessians"] = n_sampled
    result.counts["gradients"] = n_gradients[0]
    if singular and not result.message:
        result.message = "the Hessian was singular (collinear columns or no penalty on an aliased column)"
    return result


def _row_sample(problem: Problem) -> Problem | None:
    """Every k-th row, reweighted so the total weight (and so the penalty's share) is unchanged; None
    when the problem is too small for sampling to pay."""
    wanted = max(_SAMPLE_ROWS, _SAMPLE_ROWS_PER_PARAM * problem.n_params)
    stride = problem.n_rows // wanted
    if stride < 4:
        return None
    weight = problem.weight[::stride]
    if not weight.sum() > 0:
        return None
    # Every column must be seen often enough in the sample: a rare level (a destination flown once)
    # missing from it leaves only the penalty on that diagonal, and with a weak penalty the sampled
    # Newton step in that direction is enormous.
    X = problem.X
    in_sample = (
        cast("sp.csr_matrix", X)[::stride].getnnz(axis=0) if sp.issparse(X) else np.count_nonzero(X[::stride], axis=0)
    )
    if np.min(in_sample, initial=_MIN_SUPPORT) < _MIN_SUPPORT:
        return None
    changes = {
        "X": problem.X[::stride],
        "y": problem.y[::stride],
        "weight": weight * (problem.total_weight / weight.sum()),
    }
    if getattr(problem, "offset", None) is not None:
        changes["offset"] = problem.offset[::stride]  # type: ignore[index]
    return dataclasses.replace(problem, **changes)  # type: ignore[arg-type]


def _factorise(hess: NDArray[np.float64]) -> tuple[Solve, bool]:
    """Cholesky of H; if H is singular, its pseudo-inverse on the non-null space.

    The factorisation is numpy's: it runs on numpy's BLAS threads, which built H (see _threads.py).
    """
    try:
        lower = np.linalg.cholesky(hess)
        if np.all(np.isfinite(lower)):
            return (
                lambda g: solve_triangular(
                    lower,
                    solve_triangular(lower, g, lower=True, check_finite=False),
                    lower=True,
                    trans="T",
                    check_finite=False,
                )
            ), False
    except np.linalg.LinAlgError:
        pass
    values, vectors = np.linalg.eigh(hess)
    cutoff = values.max() * hess.shape[0] * np.finfo(float).eps
    inv = np.where(values > cutoff, 1.0 / np.where(values > cutoff, values, 1.0), 0.0)
    return (lambda g: vectors @ (inv * (vectors.T @ g))), True


def _line_search(
    problem: SmoothProblem,
    theta: NDArray[np.float64],
    f: float,
    grad: NDArray[np.float64],
    step: NDArray[np.float64],
    n_gradients: list[int],
) -> tuple[NDArray[np.float64], float, NDArray[np.float64], bool] | None:
    """Backtrack from the full step; returns (theta, f, gradient, took the full step) or None."""
    slope = float(grad @ step)
    if not slope < 0:
        return None
    t = 1.0
    for _ in range(_MAX_HALVINGS):
        candidate = theta + t * step
        f_new, grad_new = problem.objective_gradient(candidate)
        n_gradients[0] += 1
        if f_new <= f + _ARMIJO * t * slope:
            return candidate, f_new, grad_new, t == 1.0
        # Near the optimum f changes below float64 resolution; then a smaller gradient is the test.
        if f_new - f <= 4 * np.finfo(float).eps * max(abs(f), 1.0) and np.max(np.abs(grad_new)) < np.max(np.abs(grad)):
            return candidate, f_new, grad_new, t == 1.0
        t *= 0.5
    return None
