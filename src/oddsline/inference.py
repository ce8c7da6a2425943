"""Statistical inference for fitted logistic regressions: standard errors, p-values, intervals, tests.

``inference(estimator, X, y)`` returns an :class:`InferenceResult` whose numbers match statsmodels'
``Logit``/``GLM(Binomial)``/``MNLogit`` where those apply, and which also covers what they refuse:
L2-penalised fits (the sandwich covariance of the penalised estimator, labelled as such), Firth fits
(finite estimates and profile intervals under separation), and aliased columns (reported like R's NA
coefficients and left out of the covariance instead of crashing). L1 fits get no naive p-values: the
selection makes them invalid; seeded bootstrap intervals are offered instead.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2, norm

from ._exceptions import InferenceError, NotFittedError, ParameterError
from .core.firth import firth_penalised_loglik
from .core.inference import (
    COV_TYPES,
    aliased_columns,
    aliased_in_gram,
    condition_number,
    covariance,
    fisher_information,
    gram_matrix,
    log_likelihood,
    null_log_likelihood,
    penalised_hessian,
    vif,
)
from .core.multinomial import MultinomialProblem
from .core.objective import Problem
from .core.profile import profile_interval
from .core.solvers import fit_newton
from .estimator import LogisticRegression, cold_start
from .inference_result import InferenceResult, LRTestResult, wald_columns

__all__ = [
    "InferenceResult",
    "LRTestResult",
    "inference",
    "inference_from_information",
    "information_at_fit",
    "lr_test",
    "multinomial_from_information",
    "multinomial_information",
    "wald_test",
]


def inference(
    estimator: LogisticRegression,
    X: ArrayLike,
    y: ArrayLike,
    sample_weight: ArrayLike | None = None,
    *,
    cov_type: str = "nonrobust",
    groups: ArrayLike | None = None,
    ci: str = "wald",
    level: float = 0.95,
    feature_names: list[str] | None = None,
    n_bootstrap: int = 200,
    random_state: int = 0,
    prefer_aliased: tuple[int, ...] | NDArray[np.intp] = (),
) -> InferenceResult:
    """Coefficient table and model statistics of a fitted ``estimator`` on the data it was fitted on.

    ``prefer_aliased``: columns reported as aliased before others when a dependency leaves a choice
    (a categorical column's reference level).

    cov_type: "nonrobust" (inverse Fisher information), "HC0"-"HC3" (see core/inference.py for the
    conventions; HC1 is R sandwich's n / (n - p)), or "cluster" (with ``groups``).
    ci: "wald", "profile" (profile likelihood) or "bootstrap" (seeded; the only choice after L1).
    """
    if not hasattr(estimator, "coef_"):
        raise NotFittedError("fit the estimator before asking for inference (estimator.fit(X, y))")
    if cov_type not in COV_TYPES:
        raise ParameterError(f"cov_type must be one of {', '.join(COV_TYPES)}, got {cov_type!r}")
    if cov_type == "cluster" and groups is None:
        raise ParameterError("cov_type='cluster' needs groups=... (one cluster label per row)")
    if ci not in ("wald", "profile", "bootstrap"):
        raise ParameterError(f"ci must be 'wald', 'profile' or 'bootstrap', got {ci!r}")
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level!r}")
    _, classes, problems = estimator._prepare(X, y, sample_weight)
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if feature_names is not None:
        names = list(feature_names)
    elif fitted_names is not None:
        names = [str(n) for n in fitted_names]
    else:
        names = [f"x{j}" for j in range(problems[0].n_features)]
    if len(names) != problems[0].n_features:
        raise ParameterError(f"feature_names has {len(names)} names for {problems[0].n_features} columns")
    firth = bool(getattr(estimator, "firth", False))
    if problems[0].l1 > 0 and ci != "bootstrap":
        raise InferenceError(
            "no p-values or Wald intervals after an L1/elastic-net fit: the penalty selected the columns "
            "on the same data, so naive standard errors ignore the selection and are too small "
            "(post-selection inference). Use ci='bootstrap' for seeded bootstrap intervals, or refit "
            "the selected columns with an L2 penalty or none on fresh data"
        )
    if isinstance(problems[0], MultinomialProblem):
        return _multinomial(estimator, problems[0], classes, names, cov_type, level)
    if len(problems) > 1:
        raise InferenceError("inference for one-vs-rest fits is per class: fit one binary model per class")
    problem = problems[0]
    theta = np.r_[estimator.coef_[0], estimator.intercept_[0] if problem.fit_intercept else []]
    if ci == "bootstrap":
        return _bootstrap(estimator, problem, theta, names, level, n_bootstrap, random_state)
    group_codes = None if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    if group_codes is not None and group_codes.shape[0] != problem.n_rows:
        raise ParameterError(f"groups has {group_codes.shape[0]} labels for {problem.n_rows} rows")
    gram = gram_matrix(problem)
    aliased = (
        aliased_columns(problem, gram=gram, prefer=prefer_aliased)
        if problem.l2 == 0 and not firth
        else np.array([], dtype=np.intp)
    )
    keep = np.setdiff1d(np.arange(problem.n_params), aliased)
    if aliased.size:
        theta = _refit_without(problem, theta, keep)
    cov = covariance(problem, theta, cov_type, group_codes, keep)
    params = theta[keep]
    bse = np.sqrt(np.maximum(np.diag(cov), 0.0))
    z = norm.ppf(0.5 + level / 2)
    if ci == "profile":
        bounds = [
            profile_interval(problem, theta, int(j), float(s), level=level, firth=firth)
            for j, s in zip(keep, bse, strict=True)
        ]
        conf_int = np.array(bounds)
    else:
        conf_int = np.column_stack([params - z * bse, params + z * bse])
    llf = log_likelihood(problem, theta)
    label = _label(problem, firth, cov_type)
    extra = {}
    if isinstance(problem.X, np.ndarray) and problem.n_features <= 2000:
        vif_gram = gram if problem.fit_intercept else None
        extra["vif"] = dict(zip(names, map(float, vif(problem.X, problem.weight, vif_gram)), strict=True))
    return _ordered_result(
        problem,
        names,
        keep,
        params,
        bse,
        conf_int,
        cov,
        aliased,
        label=label,
        ci=ci,
        level=level,
        llf=llf,
        llnull=null_log_likelihood(problem),
        penalised_llf=firth_penalised_loglik(problem, theta) if firth else None,
        condition=condition_number(problem, gram),
        extra=extra,
    )


def _label(problem: Problem, firth: bool, cov_type: str) -> str:
    if firth:
        return f"Firth penalised likelihood, {cov_type}"
    if problem.l2 > 0:
        return f"L2-penalised (C={problem.C:g}): sandwich covariance of the penalised estimator, {cov_type}"
    return cov_type


def _refit_without(problem: Problem, theta: NDArray[np.float64], keep: NDArray[np.intp]) -> NDArray[np.float64]:
    """Refit on the non-aliased parameters only (the aliased ones are reported as NaN)."""
    d = problem.n_features
    columns = keep[keep < d]
    reduced = dataclasses.replace(
        problem,
        X=np.ascontiguousarray(problem.X[:, columns]),
        fit_intercept=problem.fit_intercept and bool(np.any(keep == d)),
    )
    result = fit_newton(reduced, cold_start(reduced), tol=1e-10, max_iter=200)
    full = np.zeros_like(theta)
    full[keep] = result.theta
    return full


def _ordered_result(
    problem: Problem,
    names: list[str],
    keep: NDArray[np.intp],
    params: NDArray[np.float64],
    bse: NDArray[np.float64],
    conf_int: NDArray[np.float64],
    cov: NDArray[np.float64],
    aliased: NDArray[np.intp],
    **facts: Any,
) -> InferenceResult:
    """Reorder from theta's [beta..., b] to the reported [intercept, beta...], NaN for aliased."""
    d = problem.n_features
    all_names = names + (["intercept"] if problem.fit_intercept else [])
    order = ([d] if problem.fit_intercept else []) + list(range(d))
    position = {int(j): i for i, j in enumerate(keep)}
    k = len(order)
    full_params = np.full(k, np.nan)
    full_bse = np.full(k, np.nan)
    full_ci = np.full((k, 2), np.nan)
    full_cov = np.full((k, k), np.nan)
    for out, j in enumerate(order):
        if j in position:
            i = position[j]
            full_params[out], full_bse[out], full_ci[out] = params[i], bse[i], conf_int[i]
            for out2, j2 in enumerate(order):
                if j2 in position:
                    full_cov[out, out2] = cov[i, position[j2]]
    with np.errstate(divide="ignore", invalid="ignore"):
        zvalues = full_params / full_bse
    pvalues = 2 * norm.sf(np.abs(zvalues))
    return InferenceResult(
        params=full_params,
        bse=full_bse,
        zvalues=zvalues,
        pvalues=pvalues,
        conf_int=full_ci,
        cov=full_cov,
        param_names=[all_names[j] for j in order],
        aliased=[all_names[int(j)] for j in aliased],
        nobs=float(problem.total_weight),
        df_model=float(len(keep) - int(problem.fit_intercept)),
        **facts,
    )


def _bootstrap(
    estimator: LogisticRegression,
    problem: Problem,
    theta: NDArray[np.float64],
    names: list[str],
    level: float,
    n_bootstrap: int,
    random_state: int,
) -> InferenceResult:
    """Percentile intervals from refits on seeded resamples (drawn as multinomial frequency weights)."""
    if n_bootstrap < 20:
        raise ParameterError(f"n_bootstrap must be at least 20, got {n_bootstrap}")
    rng = np.random.default_rng(random_state)
    n = problem.n_rows
    draws = np.empty((n_bootstrap, problem.n_params))
    start = theta
    for b in range(n_bootstrap):
        counts = rng.multinomial(n, np.full(n, 1.0 / n)).astype(np.float64)
        resampled = dataclasses.replace(problem, weight=problem.weight * counts)
        refit, _ = estimator._solve_direct(resampled, start, 2)
        draws[b] = refit.theta
    alpha = (1 - level) / 2
    conf_int = np.quantile(draws, [alpha, 1 - alpha], axis=0).T
    bse = draws.std(axis=0, ddof=1)
    keep = np.arange(problem.n_params)
    result = _ordered_result(
        problem,
        names,
        keep,
        theta,
        bse,
        conf_int,
        np.cov(draws, rowvar=False),
        np.array([], dtype=np.intp),
        label=f"bootstrap ({n_bootstrap} seeded resamples, seed {random_state})",
        ci="bootstrap",
        level=level,
        llf=log_likelihood(problem, theta),
        llnull=null_log_likelihood(problem),
        penalised_llf=None,
        condition=condition_number(problem),
    )
    # Bootstrap standard errors describe spread, not a normal test of a post-selection estimate.
    return dataclasses.replace(
        result, zvalues=np.full_like(result.params, np.nan), pvalues=np.full_like(result.params, np.nan)
    )


def _multinomial(
    estimator: LogisticRegression,
    problem: MultinomialProblem,
    classes: NDArray[Any],
    names: list[str],
    cov_type: str,
    level: float,
) -> InferenceResult:
    """Unpenalised multinomial in the reference-class parametrisation (class 0 is the baseline, as MNLogit)."""
    if problem.l2 > 0 or problem.l1 > 0:
        raise InferenceError("multinomial inference is available for unpenalised fits (C=math.inf) only")
    if cov_type != "nonrobust":
        raise InferenceError("multinomial inference supports cov_type='nonrobust' only")
    W, b = estimator.coef_, estimator.intercept_
    theta = np.concatenate([W.ravel(), b])
    statistics = _multinomial_statistics(problem, theta)
    return multinomial_from_information(
        W,
        b if problem.fit_intercept else None,
        statistics["fisher_information"],
        statistics["likelihood"],
        list(classes),
        names,
        level=level,
    )


def multinomial_information(
    X: NDArray[np.float64], y: NDArray[np.int64], coef: NDArray[np.float64], intercept: NDArray[np.float64]
) -> dict[str, NDArray[np.float64]]:
    """What an unpenalised multinomial fit keeps for inference without its data: the information matrix
    over theta = [coef.ravel(), intercept] (unnormalised) and [llf, llnull, nobs]."""
    n_classes = coef.shape[0]
    problem = MultinomialProblem(
        np.ascontiguousarray(X, dtype=np.float64),
        np.asarray(y, dtype=np.int64),
        np.ones(X.shape[0]),
        n_classes,
        math.inf,
    )
    return _multinomial_statistics(problem, np.concatenate([coef.ravel(), intercept]))


def _multinomial_statistics(problem: MultinomialProblem, theta: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    K = problem.n_classes
    shares = np.bincount(problem.y, weights=problem.weight, minlength=K) / problem.total_weight
    with np.errstate(divide="ignore"):
        llnull = float(problem.weight @ np.log(shares[problem.y]))
    llf = -problem.objective(theta) * problem.total_weight
    return {
        "fisher_information": problem.hessian(theta) * problem.total_weight,
        "likelihood": np.array([llf, llnull, problem.total_weight]),
    }


def multinomial_from_information(
    coef: NDArray[np.float64],
    intercept: NDArray[np.float64] | None,
    information: NDArray[np.float64],
    likelihood: NDArray[np.float64],
    classes: list[Any],
    names: list[str],
    *,
    aliased: NDArray[np.intp] | tuple[int, ...] = (),
    level: float = 0.95,
) -> InferenceResult:
    """Model-based (nonrobust) inference of an unpenalised multinomial fit from its information matrix
    over theta = [coef.ravel(), intercept] (unnormalised), in statsmodels MNLogit's parametrisation:
    class 0 is the reference, each other class k reports ``k:intercept`` and ``k:NAME`` relative to it.

    The softmax is unchanged by adding one vector to every class, so the information is singular along
    those directions; fixing class 0 removes them, and the covariance is the inverse of the block of the
    other classes. ``aliased`` design columns (no estimate) are NaN in every class, as R reports NA.
    """
    K, d = coef.shape
    aliased_set = {int(j) for j in np.asarray(aliased, dtype=np.intp)}
    keep = [j for j in range(d) if j not in aliased_set]
    free = [k * d + j for k in range(1, K) for j in keep]
    if intercept is not None:
        free += [K * d + k for k in range(1, K)]
    try:
        cov_free = np.linalg.inv(information[np.ix_(free, free)])
    except np.linalg.LinAlgError:
        raise InferenceError(
            "the information matrix of this multinomial fit is singular (a class separated, or collinear "
            "columns): no standard errors; fit with a finite C"
        ) from None
    where = {p: i for i, p in enumerate(free)}
    labels: list[str] = []
    rows: list[int] = []  # each reported parameter's place in cov_free, -1 when aliased
    params: list[float] = []
    for k in range(1, K):
        if intercept is not None:
            labels.append(f"{classes[k]}:intercept")
            rows.append(where[K * d + k])
            params.append(float(intercept[k] - intercept[0]))
        for j in range(d):
            labels.append(f"{classes[k]}:{names[j]}")
            rows.append(where.get(k * d + j, -1))
            params.append(float(coef[k, j] - coef[0, j]) if j not in aliased_set else math.nan)
    index = np.array(rows)
    known = index >= 0
    cov = np.full((len(rows), len(rows)), np.nan)
    cov[np.ix_(known, known)] = cov_free[np.ix_(index[known], index[known])]
    params_arr = np.array(params)
    llf, llnull, nobs = (float(v) for v in likelihood)
    return InferenceResult(
        params=params_arr,
        **wald_columns(params_arr, cov, level),
        cov=cov,
        param_names=labels,
        aliased=[f"{classes[k]}:{names[j]}" for k in range(1, K) for j in sorted(aliased_set)],
        nobs=nobs,
        df_model=float((K - 1) * len(keep)),
        label=f"nonrobust, reference class {classes[0]!r}",
        ci="wald",
        level=level,
        llf=llf,
        llnull=llnull,
        penalised_llf=None,
        condition=float("nan"),
    )


def information_at_fit(estimator: LogisticRegression, X: ArrayLike, y: ArrayLike) -> dict[str, NDArray[np.float64]]:
    """What a binary fit keeps for inference without its data: the information matrices at the optimum
    (over [beta..., intercept]) and [llf, llnull, nobs]."""
    _, _, problems = estimator._prepare(X, y, None)
    problem = problems[0]
    if not isinstance(problem, Problem) or len(problems) > 1:
        return {}
    theta = np.r_[estimator.coef_[0], estimator.intercept_[0] if problem.fit_intercept else []]
    info = fisher_information(problem, theta)
    return {
        "fisher_information": info,
        "penalised_hessian": penalised_hessian(problem, theta, info),
        "likelihood": np.array([log_likelihood(problem, theta), null_log_likelihood(problem), problem.total_weight]),
    }


def inference_from_information(
    theta: NDArray[np.float64],
    statistics: dict[str, NDArray[np.float64]],
    names: list[str],
    C: float,
    level: float = 0.95,
    l1_ratio: float = 0.0,
) -> InferenceResult:
    """Model-based inference from kept information matrices (theta over [beta..., intercept]).

    After an L1/elastic-net fit (``l1_ratio`` > 0) there are no standard errors, as ``inference`` gives
    none for such an estimator: the table has the coefficients and names those the penalty set to 0.

    Aliased parameters (kept by training as ``statistics["aliased"]``, or found here in the
    information matrix of an older unpenalised model) are NaN, as R reports NA; so is any standard
    error that a numerically singular matrix leaves non-positive — it is never printed as a number.
    """
    info, hess = statistics["fisher_information"], statistics["penalised_hessian"]
    penalised = not math.isinf(C)
    d = len(names)
    if penalised and l1_ratio > 0:
        return _selection_table(theta, statistics, names, C, level, l1_ratio)
    if "aliased" in statistics:
        aliased = np.asarray(statistics["aliased"], dtype=np.intp)
    elif not penalised:
        aliased = aliased_in_gram(info / max(float(np.max(np.diag(info))), 1e-300), d)
    else:
        aliased = np.array([], dtype=np.intp)
    # A column that is zero in every training row carries no information: no estimate, penalty or not.
    aliased = np.union1d(aliased, np.flatnonzero(np.diag(info) <= 0)).astype(np.intp)
    keep = np.setdiff1d(np.arange(d + 1), aliased)
    if penalised and np.array_equal(hess, info):
        # A penalty without an L2 part (the lasso) leaves exactly collinear columns (every level of a
        # categorical beside the intercept) without a unique estimate: aliased, as an unpenalised fit's.
        sub = hess[np.ix_(keep, keep)]
        singular = aliased_in_gram(sub, int(np.flatnonzero(keep == d)[0]) if d in keep else None)
        if singular.size:
            aliased = np.union1d(aliased, keep[singular]).astype(np.intp)
            keep = np.setdiff1d(np.arange(d + 1), aliased)
    sub_info, sub_hess = info[np.ix_(keep, keep)], hess[np.ix_(keep, keep)]
    if penalised:
        bread = np.linalg.inv(sub_hess)
        sub_cov = bread @ sub_info @ bread
    else:
        sub_cov = np.linalg.inv(sub_info)
    cov = np.full((d + 1, d + 1), np.nan)
    cov[np.ix_(keep, keep)] = sub_cov
    params = theta.astype(np.float64).copy()
    params[aliased] = np.nan
    order = [d, *range(d)]
    params = params[order]
    cov = cov[np.ix_(order, order)]
    llf, llnull, nobs = (float(v) for v in statistics["likelihood"])
    all_names = [*names, "intercept"]
    return InferenceResult(
        params=params,
        **wald_columns(params, cov, level),
        cov=cov,
        param_names=["intercept", *names],
        aliased=[all_names[int(j)] for j in aliased],
        nobs=nobs,
        df_model=float(len(keep) - 1),
        label=f"L2-penalised (C={C:g}): sandwich covariance of the penalised estimator, nonrobust"
        if penalised
        else "nonrobust",
        ci="wald",
        level=level,
        llf=llf,
        llnull=llnull,
    )


def _selection_table(
    theta: NDArray[np.float64],
    statistics: dict[str, NDArray[np.float64]],
    names: list[str],
    C: float,
    level: float,
    l1_ratio: float,
) -> InferenceResult:
    d = len(names)
    order = [d, *range(d)]
    params = theta.astype(np.float64)[order]
    nan = np.full(d + 1, np.nan)
    llf, llnull, nobs = (float(v) for v in statistics["likelihood"])
    penalty = "L1" if l1_ratio == 1 else f"elastic-net (l1_ratio={l1_ratio:g})"
    return InferenceResult(
        params=params,
        bse=nan,
        zvalues=nan.copy(),
        pvalues=nan.copy(),
        conf_int=np.full((d + 1, 2), np.nan),
        cov=np.full((d + 1, d + 1), np.nan),
        param_names=["intercept", *names],
        aliased=[],
        nobs=nobs,
        df_model=float(np.count_nonzero(theta[:d])),
        label=f"{penalty}-penalised (C={C:g}): no standard errors or p-values, as the penalty chose the "
        "columns on these same rows and errors that ignore the choice are too small; for seeded bootstrap "
        "intervals pass the training rows: model.inference(data=..., ci='bootstrap')",
        ci="none",
        level=level,
        llf=llf,
        llnull=llnull,
        not_selected=[names[j] for j in range(d) if theta[j] == 0],
    )


def lr_test(
    small: LogisticRegression,
    big: LogisticRegression,
    X_small: ArrayLike,
    X_big: ArrayLike,
    y: ArrayLike,
    sample_weight: ArrayLike | None = None,
) -> LRTestResult:
    """Likelihood-ratio test of a nested pair of unpenalised fits: 2 (llf_big - llf_small) ~ chi2(df)."""
    results = [inference(model, X, y, sample_weight) for model, X in ((small, X_small), (big, X_big))]
    if any("penalised" in r.label.lower() for r in results):
        raise InferenceError("the likelihood-ratio test needs unpenalised fits (C=math.inf) on both sides")
    df = round(results[1].df_model - results[0].df_model)
    if df <= 0:
        raise InferenceError(f"the bigger model must have more free parameters than the smaller one (difference {df})")
    statistic = 2.0 * (results[1].llf - results[0].llf)
    return LRTestResult(statistic=float(statistic), df=df, pvalue=float(chi2.sf(max(statistic, 0.0), df)))


def wald_test(result: InferenceResult, R: ArrayLike, q: ArrayLike | None = None) -> LRTestResult:
    """Wald test of the linear hypothesis R params = q (R is r x k over result.param_names)."""
    R_arr = np.atleast_2d(np.asarray(R, dtype=np.float64))
    if R_arr.shape[1] != result.params.shape[0]:
        raise ParameterError(f"R must have {result.params.shape[0]} columns (one per parameter), got {R_arr.shape[1]}")
    q_arr = np.zeros(R_arr.shape[0]) if q is None else np.atleast_1d(np.asarray(q, dtype=np.float64))
    if np.any(np.isnan(result.params[np.any(R_arr != 0, axis=0)])):
        raise InferenceError("the hypothesis involves an aliased parameter, which has no estimate")
    used = ~np.isnan(result.params)
    diff = R_arr[:, used] @ result.params[used] - q_arr
    middle = R_arr[:, used] @ result.cov[np.ix_(used, used)] @ R_arr[:, used].T
    statistic = float(diff @ np.linalg.solve(middle, diff))
    df = R_arr.shape[0]
    return LRTestResult(statistic=statistic, df=df, pvalue=float(chi2.sf(statistic, df)))
