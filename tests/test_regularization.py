"""Regularisation paths and cross-validated C: warm-started paths equal cold fits; folds are honest."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import oddsline
from oddsline import LogisticRegression, LogisticRegressionCV, ParameterError, regularization_path
from oddsline.core.path import stratified_folds, time_ordered_folds


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def _objective(X, y, coef, intercept, C, l1_ratio):
    eta = X @ coef + intercept
    loss = np.sum(np.logaddexp(0, eta) - y * eta)
    return loss + ((1 - l1_ratio) / 2 * coef @ coef + l1_ratio * np.abs(coef).sum()) / C


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
def test_every_path_point_equals_a_cold_fit(cancer, l1_ratio):
    X, y = cancer
    path = regularization_path(X, y, Cs=12, l1_ratio=l1_ratio, tol=1e-10)
    assert path.converged.all()
    assert np.all(np.diff(path.Cs) > 0)
    for i in (0, 5, 11):
        cold = LogisticRegression(C=path.Cs[i], l1_ratio=l1_ratio, tol=1e-10).fit(X, y)
        f_path = _objective(X, y, path.coef[i, 0], path.intercept[i, 0], path.Cs[i], l1_ratio)
        f_cold = _objective(X, y, cold.coef_[0], cold.intercept_[0], path.Cs[i], l1_ratio)
        assert f_path == pytest.approx(f_cold, rel=1e-10)


def test_lasso_path_starts_at_all_zero_and_grows(cancer):
    X, y = cancer
    path = regularization_path(X, y, Cs=20, l1_ratio=1.0)
    nonzero = (path.coef[:, 0] != 0).sum(axis=1)
    assert nonzero[0] == 0  # the grid starts at the largest C whose optimum is all zeros
    assert nonzero[1] >= 1
    assert nonzero[-1] > 15


def test_multinomial_path_shapes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int) + (X[:, 1] > 0.5)
    path = regularization_path(X, y, Cs=[0.01, 0.1, 1.0])
    assert path.coef.shape == (3, 3, 4) and path.intercept.shape == (3, 3)
    assert list(path.classes) == [0, 1, 2]


def test_stratified_folds_partition_rows_and_keep_class_shares():
    codes = np.r_[np.zeros(90, int), np.ones(30, int)]
    folds = stratified_folds(codes, 3, seed=4)
    tests = np.concatenate([t for _, t in folds])
    assert sorted(tests) == list(range(120))
    for train, test in folds:
        assert set(train).isdisjoint(test)
        assert codes[test].mean() == pytest.approx(0.25)
    again = stratified_folds(codes, 3, seed=4)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))


def test_time_ordered_folds_never_train_on_the_future():
    for train, test in time_ordered_folds(100, 4):
        assert train.max() < test.min()
        assert np.array_equal(train, np.arange(train.shape[0]))


def test_cv_choice_matches_sklearn_on_the_same_folds(cancer):
    from sklearn.linear_model import LogisticRegressionCV as SkCV

    X, y = cancer
    ours = LogisticRegressionCV(Cs=np.logspace(-3, 2, 8), cv=4, random_state=1).fit(X, y)
    folds = stratified_folds(y, 4, seed=1)
    ref = SkCV(
        Cs=ours.Cs_,
        l1_ratios=(0.0,),
        use_legacy_attributes=True,
        cv=folds,
        scoring="neg_log_loss",
        solver="newton-cholesky",
        tol=1e-10,
    ).fit(X, y)
    assert ours.C_ == pytest.approx(ref.C_[0])
    np.testing.assert_allclose(ours.scores_, -np.asarray(ref.scores_[1]).reshape(ours.scores_.shape), rtol=1e-5)
    refit = LogisticRegression(C=ours.C_).fit(X, y)
    np.testing.assert_allclose(ours.coef_, refit.coef_, rtol=1e-8)


def test_cv_is_deterministic_and_time_ordered_option_runs(cancer):
    X, y = cancer
    a = LogisticRegressionCV(Cs=6, cv=3, random_state=7).fit(X, y)
    b = LogisticRegressionCV(Cs=6, cv=3, random_state=7).fit(X, y)
    assert a.C_ == b.C_ and np.array_equal(a.scores_, b.scores_)
    t = LogisticRegressionCV(Cs=6, cv=3, time_ordered=True, l1_ratio=0.5).fit(X, y)
    assert t.scores_.shape == (3, 6) and t.C_ in t.Cs_


def test_bad_path_arguments(cancer):
    X, y = cancer
    with pytest.raises(ParameterError, match="Cs"):
        regularization_path(X, y, Cs=0)
    with pytest.raises(ParameterError, match="positive values"):
        regularization_path(X, y, Cs=[-1.0, 1.0])
    with pytest.raises(ParameterError, match="folds"):
        LogisticRegressionCV(cv=1).fit(X, y)
    assert isinstance(regularization_path(X, y, Cs=[1.0]), oddsline.RegularizationPath)


def test_lasso_path_borrows_curvature_between_points_and_every_point_meets_kkt():
    """Path points after the first take their first step on the previous point's Hessian; the result
    is still judged by the KKT conditions, and equals a cold fit."""
    from oddsline.core.objective import Problem
    from oddsline.core.path import default_Cs, solve_path
    from oddsline.core.solvers import fit_cd, kkt_violation
    from oddsline.estimator import cold_start

    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 25)) * rng.uniform(0.5, 2.0, size=25)
    y = (rng.uniform(size=3000) < 1 / (1 + np.exp(-(X[:, :6] @ rng.normal(size=6))))).astype(float)
    problem = Problem(X, y, np.ones(3000), C=1.0, l1_ratio=1.0)
    theta0 = cold_start(problem)
    grid = default_Cs(problem, theta0, 30, span=1e3)
    results = solve_path(problem, grid, theta0, lambda p, t: fit_cd(p, t, tol=1e-9))
    assert sum(r.counts["reused_hessians"] for r in results) >= 10
    for C, result in zip(grid, results, strict=True):
        at_C = problem.with_penalty(C)
        _, grad = at_C.objective_gradient(result.theta)
        assert result.converged and kkt_violation(result.theta, grad, at_C.l1, at_C.penalised) <= 1e-9
    cold = fit_cd(Problem(X, y, np.ones(3000), C=float(grid[-1]), l1_ratio=1.0), theta0, tol=1e-11)
    assert problem.with_penalty(grid[-1]).objective(results[-1].theta) == pytest.approx(
        Problem(X, y, np.ones(3000), C=float(grid[-1]), l1_ratio=1.0).objective(cold.theta), rel=1e-12
    )
