"""LogisticRegression: the scikit-learn-compatible front door to ``core``.

The estimator validates parameters and inputs once, builds the problem(s) of ``core`` and hands them to
a solver. All mathematics lives in ``core``; scikit-learn is not imported unless scikit-learn itself
calls in (its tags).
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from typing import Any, TypedDict, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.special import softmax

from ._exceptions import ConvergenceWarning, DataError, ParameterError, SeparationError
from ._sklearn_interop import not_fitted_error
from ._threads import numpy_owns_the_cores
from ._validation import Matrix, check_weight, check_X, class_weights, encode_labels
from .core.firth import fit_firth
from .core.link import expit
from .core.multinomial import MultinomialProblem, center
from .core.objective import Problem
from .core.separation import find_separation
from .core.solvers import SolverResult, fit_cd, fit_lbfgs, fit_newton
from .core.solvers.choice import NEWTON_MAX_PARAMS, choose_solver, should_whiten
from .core.solvers.row_space import RowSpace
from .core.sparsity import as_csr_if_mostly_zero

__all__ = ["LogisticRegression"]

_SOLVERS = {"newton": fit_newton, "lbfgs": fit_lbfgs, "cd": fit_cd}
_DEFAULT_MAX_ITER = {"newton": 100, "cd": 200, "lbfgs": 5000}


class _PenaltyArgs(TypedDict):
    """The keyword arguments every problem of one fit shares (Problem, MultinomialProblem)."""

    C: float
    l1_ratio: float
    fit_intercept: bool


class LogisticRegression:
    """Binary and multinomial logistic regression with L2, L1, elastic-net or no penalty.

    Minimises ``sum_i w_i logloss_i + (1/C) ((1 - l1_ratio)/2 ||beta||^2 + l1_ratio ||beta||_1)``
    with an unpenalised intercept (the scikit-learn convention, so ``C`` moves over unchanged).

    Parameters
    ----------
    C : float, default 1.0
        Inverse penalty strength; ``math.inf`` fits without a penalty.
    l1_ratio : float in [0, 1], default 0.0
        0 is ridge (L2), 1 is lasso (L1), in between elastic net.
    fit_intercept : bool, default True
    class_weight : None, "balanced" or dict label -> weight
        Multiplies each row's sample weight by its class's weight.
    solver : {"auto", "newton", "lbfgs", "cd"}, default "auto"
        "auto" picks by shape, sparsity and penalty and records why in ``solver_``.
    tol : float, default 1e-8
        Converged when the largest absolute gradient (KKT violation for L1) of the objective divided by
        the total sample weight is at most ``tol``.
    max_iter : int or None
        None means the chosen solver's default (newton 100, cd 200, lbfgs 5000).
    multi_class : {"auto", "multinomial", "ovr"}, default "auto"
        With more than two classes: the full softmax ("auto", "multinomial") or one-vs-rest.
    warm_start : bool, default False
        Start from the previous fit's coefficients when their shape matches.
    firth : bool, default False
        Fit Firth's bias-reduced penalised likelihood (binary, with ``C=math.inf``): finite estimates
        even when the classes are separated. Without it, an unpenalised fit on separated classes raises
        :class:`SeparationError` naming the columns involved.

    Attributes beyond scikit-learn's: ``converged_``, ``solver_`` ({"name", "reason"}), ``fit_info_``
    (iterations, final gradient/KKT norm, objective, wall time per phase).
    """

    # Set by fit (declared here for the type checker only; unfitted instances do not have them).
    classes_: NDArray[Any]
    coef_: NDArray[np.float64]
    intercept_: NDArray[np.float64]

    def __init__(
        self,
        C: float = 1.0,
        *,
        l1_ratio: float = 0.0,
        fit_intercept: bool = True,
        class_weight: Any = None,
        solver: str = "auto",
        tol: float = 1e-8,
        max_iter: int | None = None,
        multi_class: str = "auto",
        warm_start: bool = False,
        firth: bool = False,
    ) -> None:
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.multi_class = multi_class
        self.warm_start = warm_start
        self.firth = firth

    # -- scikit-learn protocol --------------------------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

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
        changed = [
            f"{k}={v!r}" for k, v in self.get_params().items() if v is not defaults.get(k) and v != defaults.get(k)
        ]
        return f"LogisticRegression({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(multi_class=True),
            input_tags=InputTags(sparse=True),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coef_")

    # -- fitting ----------------------------------------------------------------------------------

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> LogisticRegression:
        started = time.perf_counter()
        self._validate_params()
        if type(X).__module__.startswith("dask."):
            return self._fit_dask(X, y, sample_weight, started)
        names = feature_names_of(X)
        self._column_names = None if names is None else [str(n) for n in names]  # for messages
        _X_checked, classes, problems = self._prepare(X, y, sample_weight, sparse_copy=not self.firth)
        previous = self._previous_theta(problems)
        with numpy_owns_the_cores():
            results, choices = self._fit_problems(problems, previous, classes.shape[0])
        self._store(problems, results, classes)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.solver_ = choices[0]
        if self._layout_note:
            self.solver_["reason"] += f"; {self._layout_note}"
        self.fit_info_ = _fit_info(results, time.perf_counter() - started)
        for result in results:
            if not result.converged:
                warnings.warn(_convergence_advice(result, problems[0]), ConvergenceWarning, stacklevel=2)
                break
        return self

    def _fit_dask(self, X: Any, y: Any, sample_weight: Any, started: float) -> LogisticRegression:
        """A dask array X: fitted in passes over its row blocks (``distributed/arrays.py``)."""
        from .distributed.arrays import fit_dask_arrays, is_dask_array

        unsupported = {
            "a dask DataFrame (use oddsline.train on it, or X.to_dask_array(lengths=True))": not is_dask_array(X),
            "sample_weight": sample_weight is not None,
            "class_weight": self.class_weight is not None,
            "firth": self.firth,
            "fit_intercept=False": not self.fit_intercept,
            f"solver={self.solver!r}": self.solver != "auto",
        }
        named = [what for what, given in unsupported.items() if given]
        if named:
            raise ParameterError(f"fit on dask arrays does not take {', '.join(named)}; fit in memory for that")
        classes, result, choice, d = fit_dask_arrays(
            X, y, C=float(self.C), l1_ratio=float(self.l1_ratio), tol=self.tol, max_iter=self.max_iter
        )
        self.classes_ = classes
        self.coef_ = result.theta[:d].reshape(1, d).copy()
        self.intercept_ = np.array([result.theta[d]])
        self.n_features_in_ = d
        self.n_iter_ = np.array([result.n_iter])
        self.converged_ = result.converged
        self._multinomial = False
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.solver_ = choice
        self.fit_info_ = _fit_info([result], time.perf_counter() - started)
        if not result.converged:
            warnings.warn(f"fit on dask arrays did not converge: {result.message}", ConvergenceWarning, stacklevel=3)
        return self

    def _fit_problems(
        self,
        problems: list[Problem | MultinomialProblem],
        previous: list[NDArray[np.float64]] | None,
        n_classes: int,
    ) -> tuple[list[SolverResult], list[dict[str, str]]]:
        results, choices = [], []
        for i, problem in enumerate(problems):
            theta0 = previous[i] if previous is not None else cold_start(problem)
            if self.firth:
                # Far out along a (quasi-)separating direction the Fisher-scoring steps shrink linearly:
                # fair with `affairs` (a coefficient of 234) needs 138 of them, 0.3 s. Each costs n p^2.
                result = fit_firth(problem, theta0, tol=self.tol, max_iter=self.max_iter or FIRTH_MAX_ITER)  # type: ignore[arg-type]
                choice = {"name": "firth", "reason": "requested: Firth's bias-reduced likelihood"}
            else:
                result, choice = self._solve(problem, theta0, n_classes=n_classes)
                if isinstance(problem, Problem) and problem.l2 == 0 and problem.l1 == 0:
                    _raise_if_separated(problem, result, getattr(self, "_column_names", None))
            results.append(result)
            choices.append(choice)
        return results, choices

    def _prepare(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None, *, sparse_copy: bool = False
    ) -> tuple[Matrix, NDArray[Any], list[Problem | MultinomialProblem]]:
        """Validated X, the sorted classes, and the problem(s) of ``core`` this estimator solves.

        With ``sparse_copy`` the problems of a large, mostly-zero dense X hold a CSR copy of it (see
        core/sparsity.py); callers that need X dense (inference) leave it off.
        """
        X_checked = check_X(X)
        X_solved: Matrix = X_checked
        self._layout_note = ""
        if sparse_copy and isinstance(X_checked, np.ndarray):
            csr, density = as_csr_if_mostly_zero(X_checked)
            if csr is not None:
                X_solved = csr
                self._layout_note = f"X is {density:.1%} non-zero: solved on a CSR copy"
        n = X_checked.shape[0]
        classes, codes = encode_labels(y, n)
        weight = check_weight(sample_weight, n) * class_weights(self.class_weight, classes, codes)[codes]
        if not weight.sum() > 0:
            raise DataError("every row has weight zero after applying class_weight and sample_weight")
        K = classes.shape[0]
        common: _PenaltyArgs = {
            "C": float(self.C),
            "l1_ratio": float(self.l1_ratio),
            "fit_intercept": bool(self.fit_intercept),
        }
        problems: list[Problem | MultinomialProblem]
        if K == 2:
            problems = [Problem(X_solved, (codes == 1).astype(np.float64), weight, **common)]
        elif self.multi_class == "ovr":
            problems = [Problem(X_solved, (codes == k).astype(np.float64), weight, **common) for k in range(K)]
        else:
            problems = [MultinomialProblem(X_solved, codes, weight, K, **common)]
        return X_checked, classes, problems

    def _validate_params(self) -> None:
        C = self.C
        if not isinstance(C, (int, float, np.floating, np.integer)) or isinstance(C, bool) or not C > 0:
            raise ParameterError(f"C must be a positive number (math.inf for no penalty), got {C!r}")
        ratio = self.l1_ratio
        if not isinstance(ratio, (int, float, np.floating, np.integer)) or not 0 <= ratio <= 1:
            raise ParameterError(f"l1_ratio must be a number in [0, 1], got {ratio!r}")
        if self.solver not in ("auto", *_SOLVERS):
            raise ParameterError(f"solver must be one of auto, {', '.join(_SOLVERS)}, got {self.solver!r}")
        if self.solver in ("newton", "lbfgs") and ratio > 0 and not math.isinf(C):
            raise ParameterError(
                f"solver={self.solver!r} handles smooth penalties only; use solver='cd' (or 'auto') with l1_ratio > 0"
            )
        if self.max_iter is not None and (not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 1):
            raise ParameterError(f"max_iter must be a positive integer or None, got {self.max_iter!r}")
        if not isinstance(self.tol, (int, float, np.floating)) or not self.tol > 0:
            raise ParameterError(f"tol must be a positive number, got {self.tol!r}")
        if self.multi_class not in ("auto", "multinomial", "ovr"):
            raise ParameterError(f"multi_class must be 'auto', 'multinomial' or 'ovr', got {self.multi_class!r}")
        if self.firth and (not math.isinf(C) or ratio > 0):
            raise ParameterError(
                "firth=True replaces the L1/L2 penalty by Firth's: use LogisticRegression(firth=True, C=math.inf)"
            )

    def _solve(
        self, problem: Problem | MultinomialProblem, theta0: NDArray[np.float64], n_classes: int
    ) -> tuple[SolverResult, dict[str, str]]:
        """Solve directly, or in the row space of X when the design is wide, dense and has an L2 share."""
        row_space = _row_space(problem) if self.solver in ("auto", "newton", "lbfgs") else None
        if row_space is None:
            return self._solve_direct(problem, theta0, n_classes)
        gamma = row_space.to_gamma(theta0)
        tol = self.tol
        for _ in range(4):
            # The reduced gradient test is tightened until the original one holds (the maps rotate it).
            result, choice = self._solve_direct(row_space.problem, gamma, n_classes, tol=tol)
            gamma = result.theta
            theta = row_space.to_theta(gamma)
            objective, grad = problem.objective_gradient(theta)
            grad_norm = float(np.max(np.abs(grad)))
            if grad_norm <= self.tol or not result.converged:
                break
            tol /= 10
        result.theta, result.objective, result.grad_norm = theta, objective, grad_norm
        result.converged = grad_norm <= self.tol or (result.converged and grad_norm <= 1e-6)
        choice["reason"] = (
            f"{problem.n_features} columns > {problem.n_rows} rows: solved in the {problem.n_rows}-dimensional "
            f"row space of X; there: {choice['reason']}"
        )
        return result, choice

    def _solve_direct(
        self,
        problem: Problem | MultinomialProblem,
        theta0: NDArray[np.float64],
        n_classes: int,
        tol: float | None = None,
    ) -> tuple[SolverResult, dict[str, str]]:
        tol = self.tol if tol is None else tol
        l1 = problem.l1 > 0
        if self.solver == "auto":
            name, reason = choose_solver(
                n_rows=problem.n_rows,
                n_params=problem.n_params,
                sparse=sp.issparse(problem.X),
                l1=l1,
                n_classes=n_classes,
                unpenalised=problem.l2 == 0 and problem.l1 == 0,
            )
        else:
            name, reason = self.solver, "requested"
        max_iter = self.max_iter or _DEFAULT_MAX_ITER[name]
        whiten = should_whiten(n_rows=problem.n_rows, n_features=problem.n_features, sparse=sp.issparse(problem.X))
        if name == "lbfgs":
            result = fit_lbfgs(problem, theta0, tol=tol, max_iter=max_iter, whiten=whiten)
            reason += "; whitened" if whiten else ""
            if not result.converged and "precision" in result.message and problem.n_params <= NEWTON_MAX_PARAMS:
                # L-BFGS's line search works on f, which stops resolving progress before the gradient
                # of a badly scaled problem is small; Newton steps, accepted on the gradient, finish it.
                polish = fit_newton(problem, result.theta, tol=tol, max_iter=20)
                polish.n_iter += result.n_iter
                result = polish
                reason += "; polished by Newton at float64 precision"
        else:
            result = _SOLVERS[name](problem, theta0, tol=tol, max_iter=max_iter)
        if not result.converged and name == "newton" and not l1:
            # max_iter was sized for Newton's few, expensive iterations; L-BFGS gets its own budget.
            fallback = fit_lbfgs(problem, result.theta, tol=tol, max_iter=_DEFAULT_MAX_ITER["lbfgs"], whiten=whiten)
            reason = (
                f"{reason}; newton stopped unconverged ({result.message or 'max_iter reached'}), continued with lbfgs"
            )
            fallback.n_iter += result.n_iter
            result, name = fallback, "lbfgs"
        if isinstance(problem, MultinomialProblem):
            result.theta = center(problem, result.theta)
        return result, {"name": name, "reason": reason}

    def _previous_theta(self, problems: list[Problem | MultinomialProblem]) -> list[NDArray[np.float64]] | None:
        if not (self.warm_start and hasattr(self, "coef_")):
            return None
        thetas = []
        if isinstance(problems[0], MultinomialProblem):
            if self.coef_.shape != (problems[0].n_classes, problems[0].n_features):
                return None
            parts = [self.coef_.ravel()] + ([self.intercept_] if self.fit_intercept else [])
            return [np.concatenate(parts)]
        if self.coef_.shape != (len(problems), problems[0].n_features):
            return None
        for k in range(len(problems)):
            parts = [self.coef_[k]] + ([self.intercept_[k : k + 1]] if self.fit_intercept else [])
            thetas.append(np.concatenate(parts))
        return thetas

    def _store(
        self, problems: list[Problem | MultinomialProblem], results: list[SolverResult], classes: NDArray[Any]
    ) -> None:
        first = problems[0]
        d = first.n_features
        if isinstance(first, MultinomialProblem):
            W, b = first.unpack(results[0].theta)
            coef, intercept = W.copy(), b.copy()
        else:
            coef = np.vstack([r.theta[:d] for r in results])
            intercept = np.array([r.theta[d] if self.fit_intercept else 0.0 for r in results])
        self.classes_ = classes
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_features_in_ = d
        self.n_iter_ = np.array([r.n_iter for r in results])
        self.converged_ = all(r.converged for r in results)
        self._multinomial = isinstance(first, MultinomialProblem)

    # -- prediction -------------------------------------------------------------------------------

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """Binary: log-odds of ``classes_[1]`` per row, (n,). Multiclass: (n, K) class scores."""
        self._check_fitted()
        self._check_feature_names(X)
        X_checked = check_X(X)
        if X_checked.shape[1] != self.n_features_in_:
            raise DataError(
                f"X has {X_checked.shape[1]} features, but LogisticRegression is expecting "
                f"{self.n_features_in_} features as input; pass the columns it was fitted on, in order"
            )
        scores = np.asarray(X_checked @ self.coef_.T) + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1.0 - p, p])
        if self._multinomial:
            return softmax(scores, axis=1)  # type: ignore[no-any-return]
        p = expit(scores)
        # One-vs-rest, normalised as scikit-learn does (numpy types the keepdims sum as Any).
        return cast("NDArray[np.float64]", p / p.sum(axis=1, keepdims=True))

    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        return np.log(self.predict_proba(X))

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        scores = self.decision_function(X)
        index: NDArray[np.intp] = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Mean accuracy (weighted by ``sample_weight``)."""
        predicted = self.predict(X)
        w = check_weight(sample_weight, len(predicted))
        return float(w @ (predicted == np.asarray(y)) / w.sum())

    def _check_feature_names(self, X: ArrayLike) -> None:
        """Columns of a DataFrame are matched by name, as scikit-learn does: scoring a frame whose
        columns differ from the fitted ones (or are in another order) would silently mix them up."""
        fitted, given = getattr(self, "feature_names_in_", None), feature_names_of(X)
        if fitted is None and given is not None:
            warnings.warn(
                "X has feature names, but LogisticRegression was fitted without feature names",
                UserWarning,
                stacklevel=3,
            )
        elif fitted is not None and given is None:
            warnings.warn(
                "X does not have valid feature names, but LogisticRegression was fitted with feature names",
                UserWarning,
                stacklevel=3,
            )
        elif fitted is not None and given is not None and list(fitted) != list(given):
            raise DataError(
                "The feature names should match those that were passed during fit: fitted on "
                f"{list(fitted)[:10]}, given {list(given)[:10]}; select and order the columns as in fit"
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise not_fitted_error("this LogisticRegression is not fitted yet; call fit(X, y) first")


FIRTH_MAX_ITER = 1000


def feature_names_of(X: Any) -> NDArray[Any] | None:
    """The column names of a pandas or polars frame (all strings), else None (arrays have none)."""
    columns = getattr(X, "columns", None)
    if columns is None or sp.issparse(X):
        return None
    names = [str(c) if isinstance(c, str) else c for c in list(columns)]
    if not names or not all(isinstance(c, str) for c in names):
        return None
    return np.asarray(names, dtype=object)


def _row_space(problem: Problem | MultinomialProblem) -> RowSpace | None:
    """The row-space reduction for a wide, dense design with an L2 share, or None where it does not apply."""
    if sp.issparse(problem.X) or problem.n_features <= problem.n_rows or problem.l2 == 0 or problem.l1 > 0:
        return None
    try:
        return RowSpace(problem)
    except ValueError:
        return None


def cold_start(problem: Problem | MultinomialProblem) -> NDArray[np.float64]:
    """Zero coefficients; intercepts at the (weighted) log-odds, the optimum of the intercept-only model."""
    theta = np.zeros(problem.n_params)
    if not problem.fit_intercept:
        return theta
    w = problem.weight
    if isinstance(problem, MultinomialProblem):
        share = np.bincount(problem.y, weights=w, minlength=problem.n_classes) / problem.total_weight
        logs = np.log(np.clip(share, 1e-12, None))
        theta[-problem.n_classes :] = logs - logs.mean()
    else:
        rate = float(np.clip(w @ problem.y / problem.total_weight, 1e-12, 1 - 1e-12))
        theta[-1] = math.log(rate / (1.0 - rate))
    return theta


def _fit_info(results: list[SolverResult], seconds: float) -> dict[str, Any]:
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}
    for r in results:
        for k, v in r.timings.items():
            timings[k] = timings.get(k, 0.0) + v
        for k, c in r.counts.items():
            counts[k] = counts.get(k, 0) + c
    worst = max(results, key=lambda r: r.grad_norm)
    return {
        "solver": results[0].solver,
        "n_iter": int(sum(r.n_iter for r in results)),
        "converged": all(r.converged for r in results),
        "objective": float(sum(r.objective for r in results)),
        "grad_norm": float(worst.grad_norm),
        "message": worst.message,
        "timings": timings,
        "counts": counts,
        "wall_time": seconds,
    }


# |eta| beyond this means a fitted probability within 4.5e-5 of 0 or 1. Unpenalised fits rarely get there
# unless the classes are (quasi-)separated, and the linear programme then decides; a false alarm only
# costs that programme. 15 missed a 0/1 column whose single 1 separates its row: Newton "converged" at
# a coefficient of -14.3 (the gradient there is p = 6e-7, under the tolerance) with a standard error of 1084.
_SEPARATION_ETA = 10.0


def _raise_if_separated(problem: Problem, result: SolverResult, column_names: list[str] | None = None) -> None:
    """Confirm suspected separation with the linear programme and name the columns involved."""
    eta = problem.linear_predictor(result.theta)
    if result.converged and not np.any(np.abs(eta[problem.weight > 0]) > _SEPARATION_ETA):
        return
    found = find_separation(problem.X, problem.y, problem.weight, problem.fit_intercept)
    if found is None:
        return
    label = (lambda j: column_names[j]) if column_names else (lambda j: f"x{j}")
    names = ", ".join(label(j) for j in found.columns) or "the intercept alone"
    raise SeparationError(
        f"{found.kind} separation: a combination of column(s) {names} separates the classes "
        f"({found.n_separated_rows} rows are predicted perfectly), so the maximum-likelihood estimate does "
        "not exist and the coefficients run to infinity. Use LogisticRegression(firth=True, C=math.inf) "
        "for finite bias-reduced estimates, a finite C (a penalty), or drop those columns",
        columns=found.columns,
    )


def _convergence_advice(result: SolverResult, problem: Problem | MultinomialProblem) -> str:
    why = result.message or "max_iter was reached"
    X = problem.X
    advice = []
    if isinstance(X, np.ndarray) and X.shape[0] > 1:
        spread = X.std(axis=0)
        spread = spread[spread > 0]
        if spread.size and spread.max() / spread.min() > 1e3:
            advice.append(
                f"the columns' scales differ by a factor {spread.max() / spread.min():.0e}: standardise them "
                "(oddsline.FeatureSpec does) so the problem is well conditioned"
            )
    if math.isinf(problem.C):
        advice.append(
            "without a penalty, separable classes send coefficients to infinity and collinear columns leave "
            "them undetermined: use a finite C or drop the separating/aliased columns"
        )
    if not advice:
        advice.append("check for (quasi-)separation or collinear columns; a smaller C also helps")
    return (
        f"{result.solver} stopped after {result.n_iter} iterations with gradient/KKT norm "
        f"{result.grad_norm:.2e} above tol: {why}. Likely cause: " + "; ".join(advice) + "."
    )
