"""Newton's method (IRLS) with a Cholesky solve, Armijo backtracking, and Hessian reuse.

The method for n >> d. A gradient costs two passes over X; a Hessian costs a pass plus n d^2 flops,
several times more. Far from the optimum every step gets a fresh Hessian (damped Newton). Close to it
the Hessian hardly changes, so its Cholesky factor is reused for as long as each step still shrinks
the gradient at least fourfold (a chord step: linear convergence at a rate set by how far the Hessian
has moved); when a step fails that test, the next one is built on a fresh Hessian. On the 327k x 164
flights problem this needs 2-3 Hessians instead of 5 for the same final gradient.

Smooth penalties only (L2 or none); L1 goes to the CD solver.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigh

from ..objective import Problem
from .result import SolverResult

__all__ = ["fit_newton"]

_ARMIJO = 1e-4
_MAX_HALVINGS = 40
# A reused Hessian factor must cut max |gradient| by at least this factor per step, else refresh it.
_REUSE_CONTRACTION = 0.25

Solve = Callable[[NDArray[np.float64]], NDArray[np.float64]]


def fit_newton(
    problem: Problem, theta0: NDArray[np.float64], *, tol: float = 1e-8, max_iter: int = 100
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
    n_hessians = 0
    for iteration in range(max_iter):
        grad_norm = float(np.max(np.abs(grad)))
        result.objective, result.grad_norm, result.n_iter = f, grad_norm, iteration
        if grad_norm <= tol:
            result.converged = True
            break
        if solve is None:
            t0 = time.perf_counter()
            hess = problem.hessian(theta)
            result.add_time("hessian", time.perf_counter() - t0)
            t0 = time.perf_counter()
            solve, was_singular = _factorise(hess)
            singular |= was_singular
            n_hessians += 1
            fresh = True
            result.add_time("factorise", time.perf_counter() - t0)
        step = solve(-grad)
        t0 = time.perf_counter()
        found = _line_search(problem, theta, f, grad, step, n_gradients)
        result.add_time("line_search", time.perf_counter() - t0)
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
        if not full_step or float(np.max(np.abs(new_grad))) > _REUSE_CONTRACTION * grad_norm:
            solve = None
        grad = new_grad
    else:
        result.objective, result.grad_norm, result.n_iter = f, float(np.max(np.abs(grad))), max_iter
    result.theta = theta
    result.counts["hessians"] = n_hessians
    result.counts["gradients"] = n_gradients[0]
    if singular and not result.message:
        result.message = "the Hessian was singular (collinear columns or no penalty on an aliased column)"
    return result


def _factorise(hess: NDArray[np.float64]) -> tuple[Solve, bool]:
    """Cholesky of H; if H is singular, its pseudo-inverse on the non-null space."""
    try:
        factor = cho_factor(hess, lower=False, overwrite_a=False, check_finite=False)
        if np.all(np.isfinite(factor[0])):
            return (lambda g: cho_solve(factor, g, check_finite=False)), False
    except LinAlgError:
        pass
    values, vectors = eigh(hess)
    cutoff = values.max() * hess.shape[0] * np.finfo(float).eps
    inv = np.where(values > cutoff, 1.0 / np.where(values > cutoff, values, 1.0), 0.0)
    return (lambda g: vectors @ (inv * (vectors.T @ g))), True


def _line_search(
    problem: Problem,
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
