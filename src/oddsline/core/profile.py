"""Profile-likelihood confidence intervals.

For parameter j the interval is {v : 2 (l(theta_hat) - max_{theta_j = v} l(theta)) <= chi2_1(level)},
found by bracketing and Brent's method on each side, each evaluation a constrained fit warm-started from
the last. The constrained fit moves column j into a fixed offset (v x_j) and refits the rest. With
``firth=True`` the penalised likelihood l* = l + log det I / 2 is profiled, as R's logistf does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.stats import chi2

from .firth import firth_penalised_loglik, fit_firth
from .inference import log_likelihood
from .objective import Problem
from .solvers.newton import fit_newton

__all__ = ["profile_interval"]


def profile_interval(
    problem: Problem,
    theta: NDArray[np.float64],
    j: int,
    se: float,
    *,
    level: float = 0.95,
    firth: bool = False,
) -> tuple[float, float]:
    """(lower, upper) profile-likelihood bounds for parameter j of the optimum theta."""
    best = firth_penalised_loglik(problem, theta) if firth else log_likelihood(problem, theta)
    critical = float(chi2.ppf(level, 1))
    profile = _profile_function(problem, theta, j, firth)

    def excess(v: float) -> float:
        return 2.0 * (best - profile(v)) - critical

    centre = float(theta[j])
    step = max(se, 1e-8) * 2.0
    bounds = []
    for direction in (-1.0, 1.0):
        near, far = centre, centre + direction * step
        for _ in range(60):
            if excess(far) > 0:
                break
            near, far = far, far + direction * step
            step *= 1.6
        else:
            bounds.append(direction * math.inf)  # the profile never rises enough: an unbounded side
            continue
        bounds.append(float(brentq(excess, near, far, xtol=1e-10 * max(1.0, abs(centre)), rtol=1e-10)))
    return bounds[0], bounds[1]


def _profile_function(problem: Problem, theta: NDArray[np.float64], j: int, firth: bool) -> Callable[[float], float]:
    if firth:
        start = {"theta": theta.copy()}

        def firth_profile(v: float) -> float:
            result = fit_firth(problem, start["theta"], fixed={j: v}, tol=1e-10)
            start["theta"] = result.theta
            return firth_penalised_loglik(problem, result.theta)

        return firth_profile
    d = problem.n_features
    is_intercept = problem.fit_intercept and j == d
    if is_intercept:
        column = np.ones(problem.n_rows)
        reduced_X = problem.X
        rest = np.arange(d)
    else:
        column = (
            np.asarray(cast("sp.csr_matrix", problem.X)[:, j].toarray()).ravel()
            if sp.issparse(problem.X)
            else problem.X[:, j].copy()
        )
        keep = np.r_[np.arange(j), np.arange(j + 1, d)]
        reduced_X = problem.X[:, keep]
        rest = np.r_[keep, [d]] if problem.fit_intercept else keep
    base = dataclasses.replace(
        problem,
        X=reduced_X if sp.issparse(reduced_X) else np.ascontiguousarray(reduced_X),
        fit_intercept=problem.fit_intercept and not is_intercept,
    )
    start = {"theta": theta[rest].copy()}

    def profile(v: float) -> float:
        constrained = dataclasses.replace(base, offset=v * column)
        result = fit_newton(constrained, start["theta"], tol=1e-10, max_iter=200)
        start["theta"] = result.theta
        return log_likelihood(constrained, result.theta)

    return profile
