"""Regularisation paths with warm starts, default grids of C, and deterministic cross-validation folds.

A path is solved from the strongest penalty (smallest C) to the weakest, each fit starting from the
previous optimum: consecutive optima are close, so Newton needs one or two steps and, for L1, the
working set of the CD solver stays small (it grows only as coefficients enter).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._exceptions import ParameterError
from .solvers.result import SolverResult

__all__ = ["default_Cs", "solve_path", "stratified_folds", "time_ordered_folds"]

Solve = Callable[[Any, NDArray[np.float64]], SolverResult]


def solve_path(
    problem: Any, Cs: Sequence[float] | NDArray[np.float64], theta0: NDArray[np.float64], solve: Solve
) -> list[SolverResult]:
    """Solve ``problem`` at each C of ``Cs`` (ascending), warm-starting each from the previous optimum."""
    results = []
    theta = theta0
    for C in Cs:
        at_C = problem.with_penalty(C) if hasattr(problem, "with_penalty") else dataclasses.replace(problem, C=float(C))
        result = solve(at_C, theta)
        theta = result.theta
        results.append(result)
    return results


def default_Cs(problem: Any, theta0: NDArray[np.float64], n_Cs: int, span: float = 1e4) -> NDArray[np.float64]:
    """``n_Cs`` values of C, log-spaced over ``span``.

    With an L1 share the grid starts at the largest C whose optimum is all zeros (from the gradient at
    the intercept-only fit ``theta0``), as glmnet does; for pure L2 it spans 1e-4 .. 1e4.
    """
    if problem.l1_ratio > 0:
        _, grad = dataclasses.replace(problem, C=float("inf")).objective_gradient(theta0)
        biggest = float(np.max(np.abs(grad[problem.penalised])))
        if biggest == 0:
            raise ParameterError(
                "every penalised gradient is zero at the intercept-only fit: the features carry no signal"
            )
        # l1 coefficient of the normalised objective is l1_ratio / (C W): all zero iff |g_j| <= that.
        c_min = problem.l1_ratio / (problem.total_weight * biggest)
        return np.asarray(c_min * np.logspace(0, np.log10(span), n_Cs))
    return np.logspace(-4, 4, n_Cs)


def stratified_folds(
    codes: NDArray[np.int64], n_folds: int, seed: int
) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Seeded stratified K-fold: each class's rows are shuffled and dealt round-robin to the folds."""
    _check_folds(n_folds, codes.shape[0])
    rng = np.random.default_rng(seed)
    fold_of = np.empty(codes.shape[0], dtype=np.intp)
    offset = 0
    for k in np.unique(codes):
        members = rng.permutation(np.flatnonzero(codes == k))
        fold_of[members] = (np.arange(members.shape[0]) + offset) % n_folds
        offset += members.shape[0]
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(n_folds)]


def time_ordered_folds(n_rows: int, n_folds: int) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Forward chaining: rows in time order cut in n_folds + 1 blocks; fold i trains on blocks 0..i and
    tests on block i + 1, so no model ever sees the future of the rows it is scored on."""
    _check_folds(n_folds, n_rows)
    edges = np.linspace(0, n_rows, n_folds + 2).astype(np.intp)
    return [(np.arange(0, edges[i + 1]), np.arange(edges[i + 1], edges[i + 2])) for i in range(n_folds)]


def _check_folds(n_folds: int, n_rows: int) -> None:
    if not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ParameterError(f"cv must be an integer of at least 2 folds, got {n_folds!r}")
    if n_rows < 2 * n_folds:
        raise ParameterError(f"{n_rows} rows are too few for {n_folds} folds; use fewer folds")
