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


@pytest.mark.parametrize("sparse", [False, True])
def test_borrowed_hessian_is_the_restricted_one_with_the_new_penalty(sparse):
    """A path point borrows the previous point's curvature: same data part, its own L2 term."""
    problem = _problem(sparse=sparse, C=0.7)
    theta = np.random.default_rng(2).normal(scale=0.3, size=problem.n_params)
    assert problem.recent_hessian(np.arange(3)) is None  # nothing built yet
    built = np.array([0, 2, 3, 5, problem.n_features])  # with the intercept
    problem.hessian(theta, built)
    other = problem.with_penalty(0.05)
    inside = np.array([2, 5, problem.n_features])
    np.testing.assert_allclose(other.recent_hessian(inside), other.hessian(theta, inside), rtol=1e-13, atol=1e-15)
    assert other.recent_hessian(np.array([1, 2])) is None  # column 1 was never built


def test_binomial_loss_from_one_exponential_matches_the_textbook_formulas():
    from oddsline.core.loss import binomial_loss_gradient

    eta = np.r_[np.linspace(-40, 40, 801), -750.0, 750.0, 0.0]
    y = (np.arange(eta.size) % 3 == 0).astype(float)
    w = np.linspace(0.5, 2.0, eta.size)
    loss, g = binomial_loss_gradient(eta, y, w)
    p = 1.0 / (1.0 + np.exp(-np.clip(eta, -700, 700)))
    assert loss == pytest.approx(float(w @ (np.logaddexp(0.0, eta) - y * eta)), rel=1e-14)
    np.testing.assert_allclose(g, w * (p - y), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("index", [None, np.array([0, 3, 4, 7, 9]), np.array([1, 2, 10])])
def test_sparse_hessian_multiplies_its_mostly_nonzero_columns_densely_and_equals_the_dense_one(index):
    """One-hot blocks beside numeric columns: the numeric ones go through the dense branch."""
    rng = np.random.default_rng(5)
    n = 2000
    one_hot = np.eye(6)[rng.integers(0, 6, size=n)]
    numeric = rng.normal(size=(n, 2))
    rare = (rng.uniform(size=(n, 2)) < 0.05) * rng.normal(size=(n, 2))
    X = np.column_stack([one_hot[:, :3], numeric[:, 0], rare, one_hot[:, 3:], numeric[:, 1]])
    y = (rng.uniform(size=n) < 0.3).astype(float)
    w = rng.uniform(0.5, 2.0, size=n)
    theta = rng.normal(scale=0.2, size=X.shape[1] + 1)
    on_csr = Problem(sp.csr_matrix(X), y, w, C=0.3)
    on_dense = Problem(X, y, w, C=0.3)
    assert on_csr._dense_columns(None)[0].tolist() == [3, 9]
    np.testing.assert_allclose(on_csr.hessian(theta, index), on_dense.hessian(theta, index), rtol=1e-12, atol=1e-15)
