"""L-BFGS on the fused objective and gradient (scipy's L-BFGS-B without bounds), optionally whitened.

The method for many parameters (wide or sparse designs, multinomial with many classes): each iteration
costs one objective+gradient evaluation, two passes over X, and no p x p matrix is formed.

Whitening: L-BFGS slows down in proportion to the conditioning of the problem, and correlated or
unscaled columns make that poor (scikit-learn's lbfgs needs hundreds of iterations on correlated data).
With ``whiten=True`` each class's parameter vector beta_k = [w_k, b_k] is written beta_k = R gamma_k,
where R = L^-T and L L^T is the weighted second-moment matrix of [X, 1]; in gamma the design has
identity second moment. Only parameters are transformed (X R is never formed): a score is still
X beta, and the gradient in gamma is R^T times the gradient in beta, so an iteration costs the same.
Building R costs one pass and n d^2 flops, worth it when d is moderate. Smooth penalties only.
"""

from __future__ import annotations

import time
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.linalg import cholesky, solve_triangular
from scipy.optimize import minimize

from ..objective import second_moment
from .result import SolverResult

__all__ = ["fit_lbfgs"]


def fit_lbfgs(
    problem: Any, theta0: NDArray[np.float64], *, tol: float = 1e-8, max_iter: int = 1000, whiten: bool = False
) -> SolverResult:
    """Minimise the normalised objective; converged when max |gradient| (in theta) <= tol."""
    t0 = time.perf_counter()
    transform = _Whitening(problem) if whiten else None
    timings = {"whitening": time.perf_counter() - t0} if transform else {}
    evaluations = 0
    last: dict[str, Any] = {}

    def fun(gamma: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        nonlocal evaluations
        evaluations += 1
        theta = transform.to_theta(gamma) if transform else gamma
        f, grad = problem.objective_gradient(theta)
        last.update(gamma=gamma.copy(), grad=grad)
        return f, (transform.to_gamma_gradient(grad) if transform else grad)

    def stop_when_converged(intermediate_result: Any) -> None:
        # The test is on the gradient in theta, the same for every solver, not L-BFGS-B's own test
        # on the (whitened) projected gradient.
        # None (no evaluation yet) compares unequal; numpy's stub for array_equal leaves out None.
        if np.array_equal(cast(Any, last.get("gamma")), intermediate_result.x) and np.max(np.abs(last["grad"])) <= tol:
            raise StopIteration

    gamma0 = transform.to_gamma(theta0) if transform else theta0
    t0 = time.perf_counter()
    # ftol=0, gtol=0: stop on our gradient test alone, never on a small relative decrease of f, which on
    # a flat, badly scaled objective fires long before the optimum.
    found = minimize(
        fun,
        gamma0,
        jac=True,
        method="L-BFGS-B",
        callback=stop_when_converged,
        options={"maxiter": max_iter, "gtol": 0.0, "ftol": 0.0, "maxcor": 10},
    )
    theta = transform.to_theta(found.x) if transform else found.x
    f, grad = problem.objective_gradient(theta)
    grad_norm = float(np.max(np.abs(grad)))
    # With ftol=0 L-BFGS-B only stops early when no step decreases f in float64 any more: the objective
    # is then optimal to machine precision even if the gradient test, scaled by the data, cannot see it.
    at_precision = "REDUCTION OF F" in str(found.message) or "ABNORMAL" in str(found.message)
    converged = grad_norm <= tol or (at_precision and grad_norm <= max(tol, 1e-6))
    result = SolverResult(
        theta=theta,
        converged=converged,
        n_iter=int(found.nit),
        objective=float(f),
        grad_norm=grad_norm,
        solver="lbfgs",
        message="" if grad_norm <= tol else f"stopped at float64 precision: {found.message}",
        timings=timings,
    )
    result.add_time("lbfgs", time.perf_counter() - t0)
    result.counts["evaluations"] = evaluations
    return result


class _Whitening:
    """theta <-> gamma for beta_k = R gamma_k, per class, in the theta layouts of objective/multinomial.

    Dense designs get the full R = L^-T; sparse ones (too many columns for a d x d factor) the diagonal
    R = diag(1 / sqrt(E[x_j^2])), which already undoes the skew of hashed or one-hot column frequencies.
    """

    def __init__(self, problem: Any) -> None:
        if sp.issparse(problem.X):
            self.R = sp.diags(1.0 / _sparse_root_moments(problem.X, problem.weight, problem.fit_intercept))
        else:
            moment = second_moment(problem.X, problem.weight, problem.fit_intercept)
            # Whiten the penalised curvature, not the bare moments: the loss's Hessian is about
            # moment / 4 near p = 1/2, the penalty's l2 I. With aliased columns (a full one-hot block
            # beside the intercept) the bare moments are singular, and whitening them alone blows the
            # penalty up along the null direction (a 246-parameter softmax fit took 5000 iterations).
            ridge = np.full(moment.shape[0], 4.0 * problem.l2 + 1e-10 * np.trace(moment) / moment.shape[0])
            if problem.fit_intercept:
                ridge[-1] = 1e-10 * np.trace(moment) / moment.shape[0]
            lower = cholesky(moment + np.diag(ridge), lower=True)
            self.R = solve_triangular(lower, np.eye(moment.shape[0]), lower=True).T  # L^-T, upper triangular
        self.n_classes = int(getattr(problem, "n_classes", 1))
        self.d = problem.n_features
        self.fit_intercept = bool(problem.fit_intercept)

    def _rows(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """theta -> (K, d + intercept) matrix whose row k is beta_k."""
        K, d = self.n_classes, self.d
        W = theta[: K * d].reshape(K, d)
        return np.column_stack([W, theta[K * d :]]) if self.fit_intercept else W

    def _flat(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.fit_intercept:
            return np.concatenate([rows[:, :-1].ravel(), rows[:, -1]])
        return rows.ravel()

    def to_theta(self, gamma: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._flat(np.asarray((self.R @ self._rows(gamma).T).T))

    def to_gamma(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        rows = self._rows(theta)
        if sp.issparse(self.R):
            return self._flat(rows / self.R.diagonal())
        return self._flat(solve_triangular(self.R, rows.T, lower=False).T)

    def to_gamma_gradient(self, grad: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._flat(np.asarray((self.R.T @ self._rows(grad).T).T))


def _sparse_root_moments(X: sp.csr_matrix, weight: NDArray[np.float64], fit_intercept: bool) -> NDArray[np.float64]:
    """sqrt of the weighted mean of x_j^2 per column (1 for all-zero columns), and 1 for the intercept."""
    squares = np.asarray(X.multiply(X).T @ weight).ravel() / weight.sum()
    root = np.sqrt(np.where(squares > 0, squares, 1.0))
    return np.r_[root, 1.0] if fit_intercept else root
