"""Proximal Newton with coordinate descent, for L1 and elastic-net penalties.

Outer loop: at theta, build on a working set (unpenalised, non-zero and KKT-violating coordinates)
the quadratic model of the smooth part (gradient g, Hessian H, both
including the L2 term) and minimise  g.D + D'HD/2 + l1 * ||theta + D||_1  over D by cyclic coordinate
descent on H (Gram form: a coordinate update costs O(p), no pass over X). Inner sweeps run over the
active set (non-zero or unpenalised coordinates) and end with a full sweep that may add coordinates.
A backtracking line search on the full non-smooth objective then takes the step. Converged when the
KKT conditions hold to ``tol``: |g_j + l1 sign(theta_j)| for non-zero, max(|g_j| - l1, 0) for zero.
"""

from __future__ import annotations

import time
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from .result import SolverResult

__all__ = ["fit_cd", "kkt_violation"]

_ARMIJO = 1e-4
# A zero coefficient whose |gradient| exceeds this share of the L1 weight is about to enter the model.
_NEAR = 0.5


def kkt_violation(
    theta: NDArray[np.float64], grad: NDArray[np.float64], l1: float, penalised: NDArray[np.bool_]
) -> float:
    """Largest violation of the optimality conditions of smooth + l1 * ||theta[penalised]||_1."""
    violation = np.abs(grad)
    pen = penalised
    nonzero = pen & (theta != 0)
    zero = pen & (theta == 0)
    violation[nonzero] = np.abs(grad[nonzero] + l1 * np.sign(theta[nonzero]))
    violation[zero] = np.maximum(np.abs(grad[zero]) - l1, 0.0)
    return float(violation.max()) if violation.size else 0.0


def fit_cd(problem: Any, theta0: NDArray[np.float64], *, tol: float = 1e-8, max_iter: int = 100) -> SolverResult:
    theta = np.array(theta0, dtype=np.float64)
    penalised: NDArray[np.bool_] = problem.penalised
    l1 = float(problem.l1)
    result = SolverResult(theta, False, 0, np.inf, np.inf, "cd")
    sweeps = reused = 0
    # A fit on data that already has a Hessian built (the previous point of a path) is a path point.
    on_path = getattr(problem, "recent_hessian_index", None) is not None
    for iteration in range(max_iter):
        t0 = time.perf_counter()
        # The value includes the whole penalty, L1 too; the gradient is that of the smooth part.
        f, grad = problem.objective_gradient(theta)
        violation = kkt_violation(theta, grad, l1, penalised)
        result.objective, result.grad_norm, result.n_iter = f, violation, iteration
        result.add_time("gradient", time.perf_counter() - t0)
        if violation <= tol:
            result.converged = True
            break
        # Working set: what may move this iteration. Zero coefficients whose gradient is inside the
        # L1 band stay zero in the quadratic model too, so their rows of the Hessian are never built.
        working = np.flatnonzero(~penalised | (theta != 0) | (np.abs(grad) > l1))
        t0 = time.perf_counter()
        hess, stale = _hessian(problem, theta, working, grad, l1, on_path=on_path, first=iteration == 0)
        reused += stale
        result.add_time("hessian", time.perf_counter() - t0)
        t0 = time.perf_counter()
        sub_step, n_sweeps = _coordinate_descent(
            theta[working], grad[working], hess, l1, penalised[working], inner_tol=max(tol * 0.1, 1e-14)
        )
        step = np.zeros_like(theta)
        step[working] = sub_step
        sweeps += n_sweeps
        result.add_time("coordinate_descent", time.perf_counter() - t0)
        t0 = time.perf_counter()
        accepted = _line_search(problem, theta, f, grad, step, l1, penalised)
        result.add_time("line_search", time.perf_counter() - t0)
        if accepted is None and stale:
            continue  # the borrowed curvature misled the step: the next one builds a fresh Hessian
        if accepted is None:
            result.message = "line search made no further progress at float64 precision"
            result.converged = violation <= max(tol, 1e-6)
            break
        theta = accepted
    result.theta = theta
    result.counts["sweeps"] = sweeps
    result.counts["reused_hessians"] = reused
    return result


def _hessian(
    problem: Any,
    theta: NDArray[np.float64],
    working: NDArray[np.intp],
    grad: NDArray[np.float64],
    l1: float,
    *,
    on_path: bool,
    first: bool,
) -> tuple[NDArray[np.float64], bool]:
    """(Hessian on the working set, whether it was borrowed from the previous fit on the same data).

    On a path, a point's first step borrows the curvature the previous point left behind when it
    covers the working set. A Hessian built on a path also covers the zero coefficients whose gradient
    is past half the L1 weight: as the penalty weakens those enter next, so the following points find
    their working sets covered and build nothing.
    """
    if not on_path:
        return np.asfortranarray(problem.hessian(theta, working)), False
    if first:
        borrowed = problem.recent_hessian(working)
        if borrowed is not None:
            return borrowed, True
    near = problem.penalised & (theta == 0) & (np.abs(grad) > _NEAR * l1)
    covered = np.union1d(working, np.flatnonzero(near))
    at = np.searchsorted(covered, working)
    return np.asfortranarray(problem.hessian(theta, covered)[np.ix_(at, at)]), False


def _coordinate_descent(
    theta: NDArray[np.float64],
    grad: NDArray[np.float64],
    hess: NDArray[np.float64],
    l1: float,
    penalised: NDArray[np.bool_],
    inner_tol: float,
    max_sweeps: int = 1000,
) -> tuple[NDArray[np.float64], int]:
    """Minimise the quadratic model plus the L1 term; returns (step, sweeps).

    Coordinate descent finds the support and signs quickly but converges slowly on an ill-conditioned
    model; so once the support stops changing, the model is solved exactly on it with the signs fixed
    (one small linear solve). That solution is final if it is sign-consistent and optimal for the
    coordinates held at zero; otherwise the iterate moves toward it as far as the first sign change
    (the model decreases all along that segment) and coordinate descent resumes from there.
    """
    p = theta.shape[0]
    new = theta.copy()
    r = grad.copy()  # gradient of the quadratic model at `new`: g + H (new - theta)
    diag = np.diag(hess).copy()
    diag[diag <= 0] = 1e-12
    full = list(range(p))
    active = full
    support = np.ones(p, dtype=bool)
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        biggest = 0.0
        for j in active:
            old = new[j]
            z = old - r[j] / diag[j]
            if penalised[j]:
                threshold = l1 / diag[j]
                value = z - threshold if z > threshold else (z + threshold if z < -threshold else 0.0)
            else:
                value = z
            delta = value - old
            if delta != 0.0:
                new[j] = value
                r += hess[:, j] * delta
                biggest = max(biggest, abs(delta) * diag[j])
        if biggest <= inner_tol:
            if active is full:
                break
            active = full  # confirm with a sweep over every coordinate
            continue
        now = (new != 0.0) | ~penalised
        if np.array_equal(now, support):
            exact, optimal = _solve_on_support(theta, grad, hess, l1, penalised, new, now)
            if exact is not None:
                moved = exact if optimal else _toward(new, exact, penalised)
                # A singular model (softmax without L2) can be unbounded along its null space with
                # the signs fixed; then the exact solve is meaningless and CD simply carries on.
                before = _model(new - theta, grad, hess, l1, theta, penalised)
                if _model(moved - theta, grad, hess, l1, theta, penalised) <= before:
                    if optimal:
                        return moved - theta, sweeps
                    new = moved
                    r = grad + hess @ (new - theta)
                    now = (new != 0.0) | ~penalised
        support = now
        active = [j for j in full if now[j]]
    return new - theta, sweeps


def _solve_on_support(
    theta: NDArray[np.float64],
    grad: NDArray[np.float64],
    hess: NDArray[np.float64],
    l1: float,
    penalised: NDArray[np.bool_],
    current: NDArray[np.float64],
    support: NDArray[np.bool_],
) -> tuple[NDArray[np.float64] | None, bool]:
    """(minimiser of the model with the support and signs of ``current``, whether it is optimal overall)."""
    S = np.flatnonzero(support)
    signs = np.where(penalised[S], np.sign(current[S]), 0.0)
    step = -theta.copy()  # off-support coordinates go to zero
    step[S] = 0.0
    rhs = -grad[S] - hess[np.ix_(S, np.flatnonzero(~support))] @ step[~support] - l1 * signs
    step[S] = _solve_psd(hess[np.ix_(S, S)], rhs)
    candidate = theta + step
    if not np.all(np.isfinite(candidate)):
        return None, False
    pen_S = penalised[S]
    consistent = bool(np.all(np.sign(candidate[S][pen_S]) == signs[pen_S]))
    model_grad = grad + hess @ step
    off = ~support & penalised
    return candidate, consistent and not np.any(np.abs(model_grad[off]) > l1 * (1 + 1e-12))


def _model(
    step: NDArray[np.float64],
    grad: NDArray[np.float64],
    hess: NDArray[np.float64],
    l1: float,
    theta: NDArray[np.float64],
    penalised: NDArray[np.bool_],
) -> float:
    return float(grad @ step + 0.5 * step @ hess @ step + l1 * np.abs((theta + step)[penalised]).sum())


def _solve_psd(matrix: NDArray[np.float64], rhs: NDArray[np.float64]) -> NDArray[np.float64]:
    """Cholesky solve; the minimum-norm least-squares solution when the matrix is singular (the softmax
    intercepts, or aliased columns without an L2 share)."""
    try:
        factor = cho_factor(matrix, check_finite=False)
        solution = cho_solve(factor, rhs, check_finite=False)
        if np.all(np.isfinite(solution)) and np.allclose(matrix @ solution, rhs, rtol=1e-8, atol=1e-12):
            return solution  # type: ignore[no-any-return]
    except LinAlgError:
        pass
    # numpy types lstsq on float64 input as floating[Any]; the solution is float64.
    return cast("NDArray[np.float64]", np.linalg.lstsq(matrix, rhs, rcond=1e-12)[0])


def _toward(
    current: NDArray[np.float64], target: NDArray[np.float64], penalised: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """Move from current toward target, stopping where the first penalised coordinate reaches zero."""
    crossing = np.flatnonzero(penalised & (current != 0) & (np.sign(target) != np.sign(current)))
    if crossing.size == 0:
        return target.copy()
    ratios = current[crossing] / (current[crossing] - target[crossing])
    first = int(np.argmin(ratios))
    moved = current + float(ratios[first]) * (target - current)
    moved[crossing[first]] = 0.0
    return moved


def _line_search(
    problem: Any,
    theta: NDArray[np.float64],
    f: float,
    grad: NDArray[np.float64],
    step: NDArray[np.float64],
    l1: float,
    penalised: NDArray[np.bool_],
) -> NDArray[np.float64] | None:
    l1_now = l1 * float(np.abs(theta[penalised]).sum())
    decrease = float(grad @ step) + l1 * float(np.abs((theta + step)[penalised]).sum()) - l1_now
    if not decrease < 0:
        return None
    if -decrease <= 1e-15 * max(abs(f), 1.0):
        # The predicted decrease is below what f can resolve in float64: the quadratic model is exact
        # at this scale, so take the full step and let the KKT test judge it.
        return theta + step
    t = 1.0
    for _ in range(40):
        candidate = theta + t * step
        f_new = problem.objective(candidate)
        if f_new <= f + _ARMIJO * t * decrease:
            return candidate
        t *= 0.5
    return None
