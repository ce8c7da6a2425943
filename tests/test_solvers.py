"""Every solver path against scikit-learn's optimum, KKT conditions, warm starts and equivalences."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression as SkLR

from oddsline import LogisticRegression
from oddsline.core.objective import Problem
from oddsline.core.solvers import kkt_violation

PENALTIES = {"l2": (1.0, 0.0), "l1": (0.5, 1.0), "en": (0.5, 0.5), "none": (math.inf, 0.0)}


def _data(kind: str, seed: int = 0, n: int = 240, d: int = 6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:, 1] += 0.6 * X[:, 0]  # some correlation
    K = 2 if kind == "binary" else 3
    B = rng.normal(scale=0.8, size=(d, K))
    B[3:, :] = 0.0  # irrelevant columns, so L1 has zeros to find
    scores = X @ B + rng.gumbel(size=(n, K))
    y = scores.argmax(axis=1)
    return X, y


def objective(X, y, coef, intercept, C, l1_ratio, w):
    """sum_i w_i logloss_i + (1/C)((1 - r)/2 ||B||^2 + r ||B||_1), computed from scratch."""
    scores = np.asarray(X @ coef.T) + intercept
    if coef.shape[0] == 1:
        eta = scores[:, 0]
        loss = np.logaddexp(0, eta) - (y == 1) * eta
    else:
        loss = logsumexp(scores, axis=1) - scores[np.arange(len(y)), y]
    value = float(w @ loss)
    if not math.isinf(C):
        value += ((1 - l1_ratio) / 2 * np.sum(coef**2) + l1_ratio * np.abs(coef).sum()) / C
    return value


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "nointercept"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_objective_matches_sklearn_optimum(kind, penalty, weighted, fit_intercept, sparse):
    C, l1_ratio = PENALTIES[penalty]
    X, y = _data(kind)
    w = np.random.default_rng(1).uniform(0.2, 2.0, size=len(y)) if weighted else np.ones(len(y))
    Xf = sp.csr_matrix(X) if sparse else X
    ours = LogisticRegression(C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-10).fit(
        Xf, y, sample_weight=w
    )
    assert ours.converged_, ours.fit_info_
    solver = "saga" if l1_ratio > 0 else "newton-cholesky" if kind == "binary" else "lbfgs"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkLR(C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept, solver=solver, tol=1e-12, max_iter=200_000)
        ref.fit(Xf, y, sample_weight=w)
    f_ours = objective(X, y, ours.coef_, ours.intercept_, C, l1_ratio, w)
    f_ref = objective(X, y, ref.coef_, ref.intercept_, C, l1_ratio, w)
    assert f_ours <= f_ref * (1 + 1e-8), (f_ours, f_ref)
    assert f_ours >= f_ref * (1 - 1e-8), (f_ours, f_ref)
    np.testing.assert_allclose(ours.predict_proba(Xf), ref.predict_proba(Xf), atol=2e-5)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
def test_kkt_conditions_hold_at_the_optimum(l1_ratio):
    X, y = _data("binary", seed=3)
    model = LogisticRegression(C=0.05, l1_ratio=l1_ratio, tol=1e-10).fit(X, y)
    problem = Problem(X, (y == 1).astype(float), np.ones(len(y)), C=0.05, l1_ratio=l1_ratio)
    theta = np.r_[model.coef_[0], model.intercept_]
    _, grad = problem.objective_gradient(theta)
    assert kkt_violation(theta, grad, problem.l1, problem.penalised) <= 1e-9
    if l1_ratio == 1.0:
        assert np.sum(model.coef_ == 0) >= 1  # the lasso found exact zeros


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_solvers_reach_the_same_optimum(solver, kind):
    X, y = _data(kind, seed=5)
    a = LogisticRegression(C=0.3, solver=solver, tol=1e-10).fit(X, y)
    b = LogisticRegression(C=0.3, solver="cd", tol=1e-10).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)
    assert a.solver_["name"] == solver and b.solver_["name"] == "cd"


def test_warm_start_reaches_the_same_optimum_in_fewer_iterations():
    X, y = _data("binary", seed=7, n=2000)
    cold = LogisticRegression(C=0.1).fit(X, y)
    warm = LogisticRegression(C=0.1, warm_start=True, tol=1e-11).fit(X, y)
    warm.set_params(C=0.12).fit(X, y)
    direct = LogisticRegression(C=0.12, tol=1e-11).fit(X, y)
    np.testing.assert_allclose(warm.coef_, direct.coef_, rtol=1e-7, atol=1e-10)
    assert warm.n_iter_[0] <= direct.n_iter_[0]
    assert cold.converged_


def test_class_weight_equals_sample_weight():
    X, y = _data("binary", seed=9)
    balanced = LogisticRegression(class_weight="balanced").fit(X, y)
    counts = np.bincount(y)
    manual = LogisticRegression().fit(X, y, sample_weight=(len(y) / (2 * counts))[y])
    np.testing.assert_allclose(balanced.coef_, manual.coef_, rtol=1e-9)
    as_dict = LogisticRegression(class_weight={0: 1.0, 1: 3.0}).fit(X, y)
    manual_dict = LogisticRegression().fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    np.testing.assert_allclose(as_dict.coef_, manual_dict.coef_, rtol=1e-9)


def test_ovr_matches_separate_binary_fits():
    X, y = _data("multinomial", seed=11)
    ovr = LogisticRegression(multi_class="ovr").fit(X, y)
    for k in range(3):
        single = LogisticRegression().fit(X, (y == k).astype(int))
        np.testing.assert_allclose(ovr.coef_[k], single.coef_[0], rtol=1e-8)
    np.testing.assert_allclose(ovr.predict_proba(X).sum(axis=1), 1.0)


def test_multinomial_balance_property_per_class():
    X, y = _data("multinomial", seed=13)
    model = LogisticRegression(C=0.5).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X).mean(axis=0), np.bincount(y) / len(y), atol=1e-9)


def test_newton_falls_back_to_lbfgs_and_says_so():
    X, y = _data("binary", seed=17)
    model = LogisticRegression(solver="newton", max_iter=1).fit(X, y)
    assert model.converged_
    assert model.solver_["name"] == "lbfgs" and "continued with lbfgs" in model.solver_["reason"]


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_whitened_lbfgs_reaches_the_newton_optimum_on_badly_scaled_columns(kind, fit_intercept):
    from oddsline.core.multinomial import MultinomialProblem
    from oddsline.core.solvers import fit_lbfgs, fit_newton
    from oddsline.core.solvers.lbfgs import _Whitening
    from oddsline.estimator import cold_start

    X, y = _data(kind, seed=21, n=600)
    X = X * np.logspace(-2, 3, X.shape[1])  # scales 1e-2 .. 1e3
    w = np.ones(len(y))
    if kind == "binary":
        problem = Problem(X, (y == 1).astype(float), w, C=1.0, fit_intercept=fit_intercept)
    else:
        problem = MultinomialProblem(X, y, w, 3, C=1.0, fit_intercept=fit_intercept)
    transform = _Whitening(problem)
    theta = np.random.default_rng(0).normal(size=problem.n_params)
    np.testing.assert_allclose(transform.to_theta(transform.to_gamma(theta)), theta, rtol=1e-9, atol=1e-12)
    whitened = fit_lbfgs(problem, cold_start(problem), tol=1e-9, whiten=True)
    plain = fit_lbfgs(problem, cold_start(problem), tol=1e-9, max_iter=20_000)
    reference = fit_newton(problem, cold_start(problem), tol=1e-11)
    assert whitened.converged or "precision" in whitened.message
    assert whitened.objective == pytest.approx(reference.objective, rel=1e-12)
    assert whitened.n_iter < plain.n_iter  # the point of whitening


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_whitened_lbfgs_stays_fast_when_a_full_one_hot_block_aliases_the_intercept(kind):
    """The bare second moments are singular here; whitening them alone once made the penalty's
    curvature explode along the null direction (thousands of iterations). The penalised curvature
    is whitened instead."""
    from oddsline.core.multinomial import MultinomialProblem
    from oddsline.core.solvers import fit_lbfgs, fit_newton
    from oddsline.estimator import cold_start

    rng = np.random.default_rng(4)
    levels = rng.integers(0, 40, size=3_000)
    X = np.column_stack([np.eye(40)[levels], rng.normal(size=(3_000, 3))])  # every level: sums to 1
    y = (levels % 3 + (rng.uniform(size=3_000) < 0.3)) % 3
    w = np.ones(3_000)
    if kind == "binary":
        problem = Problem(X, (y == 1).astype(float), w, C=1.0)
    else:
        problem = MultinomialProblem(X, y, w, 3, C=1.0)
    whitened = fit_lbfgs(problem, cold_start(problem), tol=1e-9, whiten=True)
    reference = fit_newton(problem, cold_start(problem), tol=1e-11)
    assert whitened.objective == pytest.approx(reference.objective, rel=1e-12)
    assert whitened.n_iter < 300


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_wide_designs_are_solved_in_the_row_space(kind, fit_intercept):
    rng = np.random.default_rng(31)
    n, d = 80, 300
    X = rng.normal(size=(n, d))
    K = 2 if kind == "binary" else 3
    y = (X[:, :5] @ rng.normal(size=(5, K)) + rng.gumbel(size=(n, K))).argmax(axis=1)
    w = rng.uniform(0.5, 2.0, size=n)
    ours = LogisticRegression(C=0.3, fit_intercept=fit_intercept, tol=1e-10).fit(X, y, sample_weight=w)
    assert "row space" in ours.solver_["reason"] and ours.converged_
    ref = SkLR(C=0.3, fit_intercept=fit_intercept, solver="lbfgs", tol=1e-12, max_iter=100_000).fit(
        X, y, sample_weight=w
    )
    f_ours = objective(X, y, ours.coef_, ours.intercept_, 0.3, 0.0, w)
    f_ref = objective(X, y, ref.coef_, ref.intercept_, 0.3, 0.0, w)
    assert f_ours == pytest.approx(f_ref, rel=1e-9)


def test_sampled_hessians_are_not_used_when_a_column_is_rare_in_the_sample():
    """A level present in three rows of 100k is absent from a row sample; with a weak penalty the
    sampled curvature would send Newton's step to 1e5 in that direction. The support check keeps
    such problems on full Hessians (a regression: F1 at C = 1e4 took 100 s that way)."""
    rng = np.random.default_rng(0)
    n = 100_000
    X = np.column_stack([rng.normal(size=(n, 5)), np.zeros(n)])
    X[rng.choice(n, 3, replace=False), 5] = 1.0
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-X[:, :5].sum(axis=1)))).astype(float)
    model = LogisticRegression(C=1e4, tol=1e-8).fit(X, y)
    assert model.solver_["name"] == "newton"
    assert model.fit_info_["counts"]["sampled_hessians"] == 0
    assert model.fit_info_["counts"]["gradients"] < 20
    dense = LogisticRegression(C=1e4, tol=1e-8).fit(X[:, :5], y)
    assert model.fit_info_["objective"] <= dense.fit_info_["objective"] + 1e-12


def test_sampled_hessians_speed_the_damped_phase_and_reach_the_same_optimum():
    rng = np.random.default_rng(1)
    n = 200_000
    X = rng.normal(size=(n, 8)) * np.logspace(-1, 2, 8)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ (1 / np.logspace(-1, 2, 8)))))).astype(float)
    model = LogisticRegression(C=1.0, tol=1e-8).fit(X, y)
    assert model.fit_info_["counts"]["sampled_hessians"] >= 1
    assert model.converged_
    sk = SkLR(C=1.0, solver="newton-cholesky", tol=1e-12, max_iter=100).fit(X, y)
    reference = objective(X, y, sk.coef_, sk.intercept_, 1.0, 0.0, np.ones(n)) / n
    assert model.fit_info_["objective"] == pytest.approx(reference, rel=1e-10)
