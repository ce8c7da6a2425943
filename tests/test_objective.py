"""The objective's gradient and Hessian against finite differences, and the blocked Hessian against X^T D X."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from oddsline.core import objective as objective_module
from oddsline.core.objective import Problem


def _problem(n=300, d=6, *, fit_intercept=True, C=0.7, sparse=False, seed=0) -> Problem:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 3, size=d)
    y = (rng.uniform(size=n) < 0.4).astype(float)
    w = rng.uniform(0.2, 2.0, size=n)
    return Problem(sp.csr_matrix(X) if sparse else X, y, w, C=C, fit_intercept=fit_intercept)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.7, math.inf])
@pytest.mark.parametrize("sparse", [False, True])
def test_gradient_and_hessian_match_finite_differences(fit_intercept, C, sparse):
    problem = _problem(fit_intercept=fit_intercept, C=C, sparse=sparse)
    theta = np.random.default_rng(1).normal(scale=0.3, size=problem.n_params)
    f, grad, hess = problem.objective_gradient_hessian(theta)
    h = 1e-6
    eye = np.eye(problem.n_params)
    fd_grad = np.array([(problem.objective(theta + h * e) - problem.objective(theta - h * e)) / (2 * h) for e in eye])
    np.testing.assert_allclose(grad, fd_grad, rtol=1e-6, atol=1e-9)
    fd_hess = np.array(
        [
            (problem.objective_gradient(theta + h * e)[1] - problem.objective_gradient(theta - h * e)[1]) / (2 * h)
            for e in eye
        ]
    )
    np.testing.assert_allclose(hess, fd_hess, rtol=1e-5, atol=1e-8)
    assert f == pytest.approx(problem.objective(theta), rel=1e-14)


def test_blocked_hessian_equals_direct_product(monkeypatch):
    problem = _problem(n=1000, d=9)
    theta = np.linspace(-0.5, 0.5, problem.n_params)
    full = problem.objective_gradient_hessian(theta)[2]
    monkeypatch.setattr(objective_module, "BLOCK_ROWS", 37)  # many ragged blocks
    blocked = problem.objective_gradient_hessian(theta)[2]
    np.testing.assert_allclose(blocked, full, rtol=1e-12, atol=1e-14)
    eta = problem.linear_predictor(theta)
    p = 1 / (1 + np.exp(-eta))
    Xt = np.column_stack([problem.X, np.ones(problem.n_rows)])
    direct = Xt.T @ (Xt * (problem.weight * p * (1 - p))[:, None]) / problem.total_weight
    direct[np.arange(problem.n_features), np.arange(problem.n_features)] += problem.l2
    np.testing.assert_allclose(full, direct, rtol=1e-10, atol=1e-13)


def test_intercept_is_not_penalised():
    problem = _problem(C=1e-3)
    theta = np.zeros(problem.n_params)
    theta[-1] = 5.0
    assert problem.penalty(theta) == 0.0
    theta[0] = 2.0
    assert problem.penalty(theta) == pytest.approx(0.5 * problem.l2 * 4.0)


def test_objective_is_stable_for_huge_linear_predictors():
    X = np.array([[1000.0], [-1000.0]])
    problem = Problem(X, np.array([0.0, 1.0]), np.ones(2), C=math.inf, fit_intercept=False)
    f, grad = problem.objective_gradient(np.array([1.0]))
    assert np.isfinite(f) and f == pytest.approx(1000.0)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("sparse", [False, True])
def test_restricted_hessian_is_the_submatrix_of_the_full_one(sparse):
    problem = _problem(n=500, d=7, sparse=sparse)
    theta = np.linspace(-0.3, 0.4, problem.n_params)
    full = problem.hessian(theta)
    for index in (np.array([0, 3, 7]), np.array([1, 2]), np.arange(8)):
        np.testing.assert_allclose(problem.hessian(theta, index), full[np.ix_(index, index)], rtol=1e-12, atol=1e-15)


def test_multinomial_gradient_and_hessian_match_finite_differences():
    from oddsline.core.multinomial import MultinomialProblem

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = rng.integers(0, 3, size=200)
    problem = MultinomialProblem(X, y, rng.uniform(0.5, 1.5, size=200), 3, C=0.8)
    theta = rng.normal(scale=0.3, size=problem.n_params)
    _, grad = problem.objective_gradient(theta)
    h = 1e-6
    eye = np.eye(problem.n_params)
    fd = np.array([(problem.objective(theta + h * e) - problem.objective(theta - h * e)) / (2 * h) for e in eye])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    fd_hess = np.array(
        [
            (problem.objective_gradient(theta + h * e)[1] - problem.objective_gradient(theta - h * e)[1]) / (2 * h)
            for e in eye
        ]
    )
    np.testing.assert_allclose(problem.hessian(theta), fd_hess, rtol=1e-5, atol=1e-8)


def test_remembered_data_terms_never_leak_between_points_or_penalties():
    """The memo of the last theta is keyed by value (in-place edits are seen) and a path's with_penalty
    shares it only for the data part: every value matches a fresh problem's."""
    problem = _problem(C=0.7)
    rng = np.random.default_rng(3)
    theta = rng.normal(scale=0.3, size=problem.n_params)
    first = problem.objective_gradient(theta)
    theta[0] += 0.1  # the same array, edited in place
    fresh = _problem(C=0.7)
    np.testing.assert_allclose(problem.objective_gradient(theta)[1], fresh.objective_gradient(theta)[1], rtol=1e-14)
    assert problem.objective(theta) != first[0]
    other_C = problem.with_penalty(5.0)
    reference = _problem(C=5.0)
    f, grad = other_C.objective_gradient(theta)
    f_ref, grad_ref = reference.objective_gradient(theta)
    assert f == pytest.approx(f_ref, rel=1e-14)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-14)
    np.testing.assert_allclose(other_C.hessian(theta), reference.hessian(theta), rtol=1e-13)
