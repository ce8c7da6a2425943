"""Regularisation paths and cross-validated choice of C: ``regularization_path``, ``LogisticRegressionCV``."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._exceptions import ConvergenceWarning, ParameterError
from ._threads import numpy_owns_the_cores
from .core.multinomial import MultinomialProblem
from .core.path import default_Cs, solve_path, stratified_folds, time_ordered_folds
from .core.solvers import SolverResult
from .estimator import LogisticRegression, cold_start
from .metrics import log_loss

__all__ = ["LogisticRegressionCV", "RegularizationPath", "check_l1_ratio", "penalty_name", "regularization_path"]


@dataclasses.dataclass(frozen=True)
class RegularizationPath:
    """Coefficients along a path of C, ascending. ``coef`` is (n_Cs, n_outputs, n_features)."""

    Cs: NDArray[np.float64]
    coef: NDArray[np.float64]
    intercept: NDArray[np.float64]
    n_iter: NDArray[np.int64]
    converged: NDArray[np.bool_]
    classes: NDArray[Any]
    seconds: float


def regularization_path(
    X: ArrayLike,
    y: ArrayLike,
    *,
    Cs: int | Sequence[float] | NDArray[np.float64] = 50,
    l1_ratio: float = 0.0,
    sample_weight: ArrayLike | None = None,
    fit_intercept: bool = True,
    class_weight: Any = None,
    solver: str = "auto",
    tol: float = 1e-8,
) -> RegularizationPath:
    """Fit the whole path of C with warm starts (strongest penalty first).

    ``Cs`` is a count (a default grid: from the all-zero point for L1, else 1e-4 .. 1e4) or the values.
    """
    template = LogisticRegression(
        C=1.0, l1_ratio=l1_ratio, fit_intercept=fit_intercept, class_weight=class_weight, solver=solver, tol=tol
    )
    template._validate_params()
    started = time.perf_counter()
    _, classes, problems = template._prepare(X, y, sample_weight, sparse_copy=True)
    grid = _grid(problems[0], Cs)
    per_output = []
    with numpy_owns_the_cores():
        for problem in problems:
            theta0 = cold_start(problem)
            per_output.append(
                solve_path(problem, grid, theta0, lambda p, t: template._solve(p, t, classes.shape[0])[0])
            )
    return _assemble(problems, per_output, grid, classes, time.perf_counter() - started)


def _grid(problem: Any, Cs: int | Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    if isinstance(Cs, (int, np.integer)):
        if Cs < 1:
            raise ParameterError(f"Cs must be a positive count or a list of positive values, got {Cs!r}")
        return default_Cs(problem, cold_start(problem), int(Cs))
    grid = np.sort(np.asarray(Cs, dtype=np.float64))
    if grid.size == 0 or not np.all(grid > 0):
        raise ParameterError("Cs must hold positive values of C")
    return grid


def _assemble(
    problems: list[Any],
    per_output: list[list[SolverResult]],
    grid: NDArray[np.float64],
    classes: NDArray[Any],
    seconds: float,
) -> RegularizationPath:
    m = grid.shape[0]
    first = problems[0]
    d = first.n_features
    if isinstance(first, MultinomialProblem):
        pairs = [first.unpack(r.theta) for r in per_output[0]]
        coef = np.stack([W for W, _ in pairs])
        intercept = np.stack([b for _, b in pairs])
    else:
        coef = np.zeros((m, len(problems), d))
        intercept = np.zeros((m, len(problems)))
        for k, results in enumerate(per_output):
            for i, r in enumerate(results):
                coef[i, k] = r.theta[:d]
                intercept[i, k] = r.theta[d] if first.fit_intercept else 0.0
    n_iter = np.array([sum(results[i].n_iter for results in per_output) for i in range(m)])
    converged = np.array([all(results[i].converged for results in per_output) for i in range(m)])
    if not converged.all():
        warnings.warn(
            f"{int((~converged).sum())} of {m} path points did not converge", ConvergenceWarning, stacklevel=3
        )
    return RegularizationPath(grid, coef, intercept, n_iter, converged, classes, seconds)


class LogisticRegressionCV(LogisticRegression):
    """LogisticRegression whose C is chosen by K-fold cross-validated log loss along a warm-started path.

    Folds are deterministic: stratified and seeded by ``random_state``, or, with ``time_ordered=True``,
    forward-chained blocks of the rows in the order given (train on the past, score on the next block).
    After selection the model is refitted on all rows at the chosen ``C_``. ``scores_`` is
    (n_folds, n_Cs) held-out log loss, ``Cs_`` the grid.
    """

    def __init__(
        self,
        Cs: int | Sequence[float] = 20,
        *,
        cv: int = 5,
        time_ordered: bool = False,
        random_state: int = 0,
        l1_ratio: float = 0.0,
        fit_intercept: bool = True,
        class_weight: Any = None,
        solver: str = "auto",
        tol: float = 1e-8,
        max_iter: int | None = None,
        multi_class: str = "auto",
    ) -> None:
        super().__init__(
            1.0,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            class_weight=class_weight,
            solver=solver,
            tol=tol,
            max_iter=max_iter,
            multi_class=multi_class,
        )
        self.Cs = Cs
        self.cv = cv
        self.time_ordered = time_ordered
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> LogisticRegressionCV:
        self._validate_params()
        X_checked, classes, problems = self._prepare(X, y, sample_weight)
        codes = np.searchsorted(classes, np.asarray(y).ravel())
        weight = problems[0].weight
        grid = _grid(problems[0], self.Cs)
        n = X_checked.shape[0]
        folds = (
            time_ordered_folds(n, self.cv) if self.time_ordered else stratified_folds(codes, self.cv, self.random_state)
        )
        scores = np.zeros((len(folds), grid.shape[0]))
        for f, (train, test) in enumerate(folds):
            fold = LogisticRegression(
                **{k: v for k, v in self.get_params().items() if k in LogisticRegression._param_names()}
            )
            path = regularization_path(
                X_checked[train],
                np.asarray(y).ravel()[train],
                Cs=grid,
                l1_ratio=self.l1_ratio,
                sample_weight=weight[train],
                fit_intercept=self.fit_intercept,
                solver=self.solver,
                tol=self.tol,
            )
            for i in range(grid.shape[0]):
                fold.classes_, fold.coef_, fold.intercept_ = path.classes, path.coef[i], path.intercept[i]
                fold.n_features_in_ = X_checked.shape[1]
                fold._multinomial = path.coef.shape[1] > 1 and self.multi_class != "ovr"
                scores[f, i] = _held_out_log_loss(fold, X_checked[test], codes[test], classes, weight[test])
        best = int(np.argmin(scores.mean(axis=0)))
        self.Cs_ = grid
        self.scores_ = scores
        self.C_ = float(grid[best])
        self.C = self.C_
        super().fit(X_checked, y, sample_weight)
        return self


def _held_out_log_loss(
    model: LogisticRegression, X: Any, codes: NDArray[np.intp], classes: NDArray[Any], weight: NDArray[np.float64]
) -> float:
    proba = model.predict_proba(X)
    column = np.searchsorted(model.classes_, classes[codes])
    if np.any(column >= model.classes_.shape[0]) or np.any(
        model.classes_[np.minimum(column, len(model.classes_) - 1)] != classes[codes]
    ):
        # a class absent from this training fold: its rows get the worst finite loss
        return float("inf")
    p = np.clip(proba[np.arange(len(codes)), column], 1e-15, 1.0)
    if proba.shape[1] == 2:
        return log_loss((column == 1).astype(float), proba[:, 1], weight)
    return float(-(weight @ np.log(p)) / weight.sum())


def check_l1_ratio(l1_ratio: Any, C: float) -> None:
    """The L1 share of the penalty: a number in [0, 1], and above 0 only with a finite C."""
    if isinstance(l1_ratio, bool) or not isinstance(l1_ratio, (int, float)) or not 0 <= l1_ratio <= 1:
        raise ParameterError(f"l1_ratio (--l1-ratio) must be a number in [0, 1] (0 ridge, 1 lasso), got {l1_ratio!r}")
    if l1_ratio and math.isinf(C):
        raise ParameterError(
            f"an L1 share of {l1_ratio:g} (--l1-ratio, l1_ratio=) penalises the coefficients, but C = inf asks for "
            "no penalty: give a finite C (--C 1, C=1) or an L1 share of 0"
        )


def penalty_name(l1_ratio: float) -> str:
    return "l2" if l1_ratio == 0 else "l1" if l1_ratio == 1 else "elasticnet"
