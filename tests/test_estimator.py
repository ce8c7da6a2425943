"""LogisticRegression against scikit-learn's newton-cholesky, plus the invariants of a logistic fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import oddsline
from oddsline import DataError, LogisticRegression, NotFittedError, ParameterError


@pytest.fixture(scope="module")
def telco_design(telco_table):
    from oddsline.features import FeatureSpec
    from oddsline.target import resolve_target

    spec = FeatureSpec.infer(telco_table, target="churn")
    X = spec.fit(telco_table).transform(telco_table)
    y = resolve_target(telco_table, "churn", "Yes").encode(telco_table)
    return X, y


def _synthetic(n=2000, d=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    beta = rng.normal(size=d)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ beta - 0.5)))).astype(float)
    return X, y


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_coefficients_match_sklearn_newton_cholesky_on_telco(telco_design, C):
    X, y = telco_design
    ours = LogisticRegression(C=C, tol=1e-12).fit(X, y)
    ref = SkLogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)
    assert ours.converged_
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weighted_fit_matches_sklearn(fit_intercept):
    X, y = _synthetic()
    w = np.random.default_rng(3).uniform(0.1, 3.0, size=len(y))
    ours = LogisticRegression(C=0.5, fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    ref = SkLogisticRegression(C=0.5, fit_intercept=fit_intercept, solver="newton-cholesky", tol=1e-12).fit(
        X, y, sample_weight=w
    )
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-10)


def test_unpenalised_fit_matches_statsmodels():
    import statsmodels.api as sm

    X, y = _synthetic(n=3000, d=5, seed=7)
    ours = LogisticRegression(C=math.inf, tol=1e-11).fit(X, y)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12, maxiter=100)
    np.testing.assert_allclose(ours.intercept_[0], ref.params[0], rtol=1e-8)
    np.testing.assert_allclose(ours.coef_[0], ref.params[1:], rtol=1e-8)


def test_balance_property_mean_probability_equals_weighted_positive_rate():
    X, y = _synthetic(seed=11)
    w = np.random.default_rng(5).uniform(0.5, 2.0, size=len(y))
    model = LogisticRegression(C=0.3).fit(X, y, sample_weight=w)
    p = model.predict_proba(X)[:, 1]
    assert w @ p / w.sum() == pytest.approx(w @ y / w.sum(), abs=1e-9)


def test_integer_weights_equal_repeated_rows():
    X, y = _synthetic(n=500, seed=2)
    counts = np.random.default_rng(4).integers(0, 4, size=len(y))
    weighted = LogisticRegression(C=2.0).fit(X, y, sample_weight=counts)
    repeated = LogisticRegression(C=2.0).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-9)


def test_labels_keep_their_original_values():
    X, y = _synthetic(n=400)
    labels = np.where(y == 1, "churned", "stayed")
    model = LogisticRegression().fit(X, labels)
    assert list(model.classes_) == ["churned", "stayed"]
    assert set(model.predict(X)) <= {"churned", "stayed"}


def test_fit_info_reports_solver_and_reason():
    X, y = _synthetic(n=400)
    model = LogisticRegression().fit(X, y)
    assert model.solver_["name"] == "newton" and model.solver_["reason"]
    assert model.fit_info_["grad_norm"] <= 1e-8
    assert set(model.fit_info_["timings"]) >= {"hessian", "factorise", "line_search"}
    assert model.fit_info_["counts"]["hessians"] >= 1


def test_sklearn_clone_and_params_round_trip():
    from sklearn.base import clone

    model = LogisticRegression(C=3.0, tol=1e-6)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    with pytest.raises(ParameterError, match="no parameter 'penalty_strength'"):
        model.set_params(penalty_strength=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"C": 0}, "C must be a positive"),
        ({"C": -1.0}, "C must be"),
        ({"solver": "sag"}, "solver must be"),
        ({"l1_ratio": 1.5}, "l1_ratio"),
        ({"solver": "newton", "l1_ratio": 0.5}, "smooth penalties only"),
        ({"multi_class": "crammer"}, "multi_class"),
        ({"class_weight": "auto"}, "class_weight"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": -1}, "tol"),
    ],
)
def test_bad_parameters_are_named(kwargs, match):
    X, y = _synthetic(n=50)
    with pytest.raises(ParameterError, match=match):
        LogisticRegression(**kwargs).fit(X, y)


def test_bad_inputs_are_named():
    X, y = _synthetic(n=50)
    with pytest.raises(DataError, match="NaN"):
        LogisticRegression().fit(np.where(X > 1.5, np.nan, X), y)
    with pytest.raises(DataError, match="only one class"):
        LogisticRegression().fit(X, np.zeros(50))
    with pytest.raises(DataError, match="Unknown label type"):
        LogisticRegression().fit(X, np.linspace(0, 1, 50))
    with pytest.raises(DataError, match="one label per row"):
        LogisticRegression().fit(X, y[:-1])
    with pytest.raises(DataError, match="non-negative"):
        LogisticRegression().fit(X, y, sample_weight=-np.ones(50))
    with pytest.raises(NotFittedError, match="fit"):
        LogisticRegression().predict(X)
    fitted = LogisticRegression().fit(X, y)
    with pytest.raises(DataError, match="X has 3 features, but LogisticRegression is expecting 8"):
        fitted.predict(np.ones((5, 3)))


def test_separable_data_without_penalty_is_refused_with_advice():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    with pytest.raises(oddsline.SeparationError, match="firth=True"):
        LogisticRegression(C=math.inf, max_iter=20).fit(X, y)
