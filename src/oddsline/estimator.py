"""LogisticRegression: the scikit-learn-compatible front door to ``core``.

The estimator validates its parameters and inputs once, builds a :class:`core.objective.Problem`, and hands
it to a solver. All mathematics lives in ``core``.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from ._exceptions import ConvergenceWarning, DataError, NotFittedError, ParameterError
from .core.link import expit
from .core.objective import Problem, unpack
from .core.solvers import SolverResult, fit_newton

__all__ = ["LogisticRegression"]

_SOLVERS = ("auto", "newton")


class LogisticRegression:
    """Binary logistic regression with an L2 penalty (``C=inf``: none), fitted by Newton's method.

    Parameters
    ----------
    C : float, default 1.0
        Inverse penalty strength, as in scikit-learn; ``math.inf`` fits without a penalty.
    fit_intercept : bool, default True
        Fit an unpenalised intercept.
    solver : {"auto", "newton"}, default "auto"
    tol : float, default 1e-8
        Stop when the largest absolute gradient entry of the objective divided by the total sample
        weight is at most ``tol``.
    max_iter : int, default 100

    Attributes beyond scikit-learn's: ``converged_``, ``solver_`` (the solver used and why),
    ``fit_info_`` (iterations, gradient norm, objective, wall time per phase).
    """

    def __init__(
        self,
        C: float = 1.0,
        *,
        fit_intercept: bool = True,
        solver: str = "auto",
        tol: float = 1e-8,
        max_iter: int = 100,
    ) -> None:
        self.C = C
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter

    # -- scikit-learn parameter protocol --------------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> LogisticRegression:
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ParameterError(f"LogisticRegression has no parameter {name!r}; valid: {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults.get(k)]
        return f"LogisticRegression({', '.join(changed)})"

    # -- fitting --------------------------------------------------------------------------------

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> LogisticRegression:
        started = time.perf_counter()
        self._validate_params()
        X_checked = _check_X(X)
        classes, y01 = _binary_labels(y, X_checked.shape[0])
        weight = _check_weight(sample_weight, X_checked.shape[0])
        problem = Problem(X_checked, y01, weight, C=float(self.C), fit_intercept=self.fit_intercept)
        solver, reason = self._choose_solver(problem)
        theta0 = np.zeros(problem.n_params)
        if self.fit_intercept:
            rate = float(np.clip(weight @ y01 / problem.total_weight, 1e-12, 1 - 1e-12))
            theta0[-1] = math.log(rate / (1.0 - rate))
        result = fit_newton(problem, theta0, tol=self.tol, max_iter=self.max_iter)
        beta, intercept = unpack(result.theta, self.fit_intercept)
        self.classes_ = classes
        self.coef_ = beta.reshape(1, -1).copy()
        self.intercept_ = np.array([intercept])
        self.n_features_in_ = problem.n_features
        self.n_iter_ = np.array([result.n_iter])
        self.converged_ = result.converged
        self.solver_ = {"name": solver, "reason": reason}
        self.fit_info_ = _fit_info(result, time.perf_counter() - started)
        if not result.converged:
            warnings.warn(_convergence_advice(result, problem), ConvergenceWarning, stacklevel=2)
        elif math.isinf(problem.C):
            _warn_if_separated(problem.linear_predictor(result.theta))
        return self

    def _validate_params(self) -> None:
        C = self.C
        if not isinstance(C, (int, float)) or isinstance(C, bool) or not C > 0:
            raise ParameterError(f"C must be a positive number (math.inf for no penalty), got {C!r}")
        if self.solver not in _SOLVERS:
            raise ParameterError(f"solver must be one of {', '.join(_SOLVERS)}, got {self.solver!r}")
        if not isinstance(self.max_iter, int) or self.max_iter < 1:
            raise ParameterError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not isinstance(self.tol, (int, float)) or not self.tol > 0:
            raise ParameterError(f"tol must be a positive number, got {self.tol!r}")

    def _choose_solver(self, problem: Problem) -> tuple[str, str]:
        if self.solver == "newton":
            return "newton", "requested"
        return "newton", f"n_rows={problem.n_rows} >> n_params={problem.n_params} with a smooth penalty"

    # -- prediction -----------------------------------------------------------------------------

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        self._check_fitted()
        X_checked = _check_X(X)
        if X_checked.shape[1] != self.n_features_in_:
            raise DataError(
                f"X has {X_checked.shape[1]} columns but the model was fitted on {self.n_features_in_}; "
                "pass the same columns in the same order"
            )
        return np.asarray(X_checked @ self.coef_[0]) + self.intercept_[0]

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this LogisticRegression is not fitted yet; call fit(X, y) first")


def _check_X(X: ArrayLike) -> NDArray[np.float64] | sp.csr_matrix:
    if sp.issparse(X):
        csr = sp.csr_matrix(X, dtype=np.float64)
        values = csr.data
        result: NDArray[np.float64] | sp.csr_matrix = csr
    else:
        try:
            arr = np.ascontiguousarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"X must be numeric: {exc}; encode strings first (oddsline.FeatureSpec does)") from None
        if arr.ndim != 2:
            raise DataError(
                f"X must be 2-dimensional (rows x columns), got shape {arr.shape}; reshape(-1, 1) for one feature"
            )
        values = arr
        result = arr
    if result.shape[0] == 0:
        raise DataError("X has no rows; a fit needs at least one row of each class")
    if not np.all(np.isfinite(values)):
        raise DataError("X contains NaN or infinity; impute missing values first (oddsline.FeatureSpec does)")
    return result


def _binary_labels(y: ArrayLike, n_rows: int) -> tuple[NDArray[Any], NDArray[np.float64]]:
    y_arr = np.asarray(y)
    if y_arr.ndim != 1:
        y_arr = y_arr.ravel() if y_arr.ndim == 2 and 1 in y_arr.shape else y_arr
    if y_arr.ndim != 1 or y_arr.shape[0] != n_rows:
        raise DataError(f"y must be 1-dimensional with one label per row of X ({n_rows}), got shape {np.shape(y)}")
    classes, codes = np.unique(y_arr, return_inverse=True)
    if classes.shape[0] != 2:
        raise DataError(
            f"y must have exactly two classes for binary logistic regression, found {classes.shape[0]}: "
            f"{list(classes[:5])}"
        )
    return classes, codes.astype(np.float64)


def _check_weight(sample_weight: ArrayLike | None, n_rows: int) -> NDArray[np.float64]:
    if sample_weight is None:
        return np.ones(n_rows)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n_rows, float(w))
    if w.shape != (n_rows,):
        raise DataError(f"sample_weight must have one value per row ({n_rows}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError("sample_weight must be finite and non-negative")
    if not w.sum() > 0:
        raise DataError("sample_weight sums to zero; at least one row needs a positive weight")
    return w


def _fit_info(result: SolverResult, seconds: float) -> dict[str, Any]:
    return {
        "solver": result.solver,
        "n_iter": result.n_iter,
        "converged": result.converged,
        "objective": result.objective,
        "grad_norm": result.grad_norm,
        "message": result.message,
        "timings": dict(result.timings),
        "counts": dict(result.counts),
        "wall_time": seconds,
    }


# |eta| beyond this means a fitted probability within 1e-13 of 0 or 1: for an unpenalised fit that only
# happens when the classes are (quasi-)separated and the likelihood has no finite maximiser.
_SEPARATION_ETA = 30.0


def _warn_if_separated(eta: NDArray[np.float64]) -> None:
    n_extreme = int(np.sum(np.abs(eta) > _SEPARATION_ETA))
    if n_extreme:
        warnings.warn(
            f"{n_extreme} row(s) are fitted with probability 0 or 1 to machine precision: the classes are "
            "(quasi-)separated, so the unpenalised coefficients run to infinity and their values are "
            "arbitrary. Use a finite C (a penalty) or remove the separating column.",
            ConvergenceWarning,
            stacklevel=3,
        )


def _convergence_advice(result: SolverResult, problem: Problem) -> str:
    why = result.message or "the tolerance was not reached"
    advice = (
        "If some coefficients are very large the classes may be separable: use a finite C "
        "(a penalty) or remove the separating column."
    )
    if math.isinf(problem.C):
        advice += " Unpenalised fits on collinear columns also stall: drop the aliased columns."
    return (
        f"{result.solver} stopped after {result.n_iter} iterations with max |gradient| "
        f"{result.grad_norm:.2e} > tol: {why}. {advice}"
    )
