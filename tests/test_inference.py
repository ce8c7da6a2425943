"""Inference against statsmodels, a published table, independent optimisers, and a coverage simulation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.optimize import minimize
from scipy.stats import chi2

import oddsline
from conftest import DATA
from oddsline import DataError, InferenceError, LogisticRegression, SeparationError, inference, lr_test, wald_test

INF = math.inf


@pytest.fixture(scope="module")
def default_data():
    d = pd.read_csv(DATA / "islr_default.csv")
    y = (d["default"] == "Yes").to_numpy(float)
    X = np.column_stack([(d["student"] == "Yes").astype(float), d["balance"], d["income"] / 1000])
    return X, y, ["student", "balance", "income_k"]


@pytest.fixture(scope="module")
def credit_data():
    d = pd.read_csv(DATA / "credit_scoring.csv").dropna().reset_index(drop=True)
    y = (d["Status"] == "bad").to_numpy(float)
    numeric = ["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]
    dummies = pd.get_dummies(d[["Home", "Marital", "Records", "Job"]], drop_first=True, dtype=float)
    frame = pd.concat([d[numeric].astype(float), dummies], axis=1)
    return frame.to_numpy(), y, list(frame.columns), d["Job"].to_numpy()


def _statsmodels(X, y, **fit):
    return sm.Logit(y, sm.add_constant(X, has_constant="add")).fit(disp=0, tol=1e-12, maxiter=200, **fit)


def test_islr_default_matches_statsmodels_and_the_published_table(default_data):
    X, y, names = default_data
    ours = inference(LogisticRegression(C=INF, tol=1e-11).fit(X, y), X, y, feature_names=names)
    ref = _statsmodels(X, y)
    assert ours.param_names == ["intercept", *names]
    np.testing.assert_allclose(ours.params, ref.params, rtol=1e-6)
    np.testing.assert_allclose(ours.bse, ref.bse, rtol=1e-5)
    np.testing.assert_allclose(ours.pvalues, ref.pvalues, rtol=1e-4, atol=1e-300)
    np.testing.assert_allclose(ours.conf_int, ref.conf_int(), rtol=1e-5)
    # James et al., An Introduction to Statistical Learning (2013), Table 4.3
    np.testing.assert_allclose(ours.params, [-10.8690, -0.6468, 0.0057, 0.0030], atol=5e-5)
    np.testing.assert_allclose(ours.bse, [0.4923, 0.2363, 0.0002, 0.0082], atol=5e-5)
    assert ours.llf == pytest.approx(ref.llf, rel=1e-10)
    assert ours.llnull == pytest.approx(ref.llnull, rel=1e-10)
    assert ours.aic == pytest.approx(ref.aic, rel=1e-10) and ours.bic == pytest.approx(ref.bic, rel=1e-10)
    assert ours.prsquared == pytest.approx(ref.prsquared, rel=1e-9)
    np.testing.assert_allclose(ours.odds_ratios, np.exp(ref.params), rtol=1e-6)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "cluster"])
def test_credit_scoring_covariances_match_statsmodels(credit_data, cov_type):
    X, y, _, job = credit_data
    groups = pd.factorize(job)[0]
    ours = inference(
        LogisticRegression(C=INF, tol=1e-11).fit(X, y),
        X,
        y,
        cov_type=cov_type,
        groups=groups if cov_type == "cluster" else None,
    )
    # statsmodels' discrete models return HC0 for "HC1" (no small-sample factor); oddsline applies the
    # textbook n / (n - p), so HC1 is compared with statsmodels' HC0 times that factor.
    sm_type = "HC0" if cov_type == "HC1" else cov_type
    kwargs = {"cov_type": sm_type} | ({"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {})
    ref = _statsmodels(X, y, **kwargs)
    factor = math.sqrt(len(y) / (len(y) - X.shape[1] - 1)) if cov_type == "HC1" else 1.0
    np.testing.assert_allclose(ours.params, ref.params, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(ours.bse, ref.bse * factor, rtol=1e-5)
    if cov_type != "HC1":
        np.testing.assert_allclose(ours.conf_int, ref.conf_int(), rtol=1e-5, atol=1e-10)


def test_frequency_weights_match_glm(default_data):
    X, y, _ = default_data
    w = np.random.default_rng(0).integers(1, 4, size=len(y)).astype(float)
    ours = inference(LogisticRegression(C=INF, tol=1e-11).fit(X, y, sample_weight=w), X, y, sample_weight=w)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), freq_weights=w).fit(tol=1e-12)
    np.testing.assert_allclose(ours.params, ref.params, rtol=1e-6)
    np.testing.assert_allclose(ours.bse, ref.bse, rtol=1e-5)
    assert ours.llf == pytest.approx(ref.llf, rel=1e-9)


def test_multinomial_matches_mnlogit(credit_data):
    d = pd.read_csv(DATA / "credit_scoring.csv").dropna()
    d = d[d["Home"].isin(["owner", "parents", "rent"])]
    X = d[["Age", "Seniority", "Income"]].to_numpy(float)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    codes = pd.Categorical(d["Home"]).codes
    ours = inference(
        LogisticRegression(C=INF, tol=1e-11).fit(X, codes), X, codes, feature_names=["age", "seniority", "income"]
    )
    ref = sm.MNLogit(codes, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    np.testing.assert_allclose(ours.params, ref.params.T.ravel(), rtol=1e-6)
    np.testing.assert_allclose(ours.bse, ref.bse.T.ravel(), rtol=1e-5)
    assert ours.llf == pytest.approx(ref.llf, rel=1e-10)
    assert ours.param_names[:2] == ["1:intercept", "1:age"]


def test_likelihood_ratio_and_wald_tests_match_statsmodels(default_data):
    X, y, _ = default_data
    small = LogisticRegression(C=INF, tol=1e-11).fit(X[:, 1:2], y)
    big = LogisticRegression(C=INF, tol=1e-11).fit(X, y)
    test = lr_test(small, big, X[:, 1:2], X, y)
    ref_small, ref_big = _statsmodels(X[:, 1:2], y), _statsmodels(X, y)
    assert test.statistic == pytest.approx(2 * (ref_big.llf - ref_small.llf), rel=1e-8)
    assert test.df == 2
    result = inference(big, X, y)
    R = np.array([[0, 1, 0, 0], [0, 0, 0, 1]])
    ours = wald_test(result, R)
    ref = ref_big.wald_test(R, scalar=True)
    assert ours.statistic == pytest.approx(float(ref.statistic), rel=1e-6)
    assert ours.pvalue == pytest.approx(float(ref.pvalue), rel=1e-5)


def test_complete_separation_is_named_before_it_diverges():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=60), rng.normal(size=60)])
    y = (X[:, 1] > 0).astype(float)  # column x1 alone separates
    with pytest.raises(SeparationError, match=r"complete separation.*x1") as info:
        LogisticRegression(C=INF).fit(X, y)
    assert info.value.columns == (1,)
    LogisticRegression(C=1.0).fit(X, y)  # a penalty makes it well posed


def test_caravan_is_quasi_separated_where_statsmodels_reports_nonsense():
    d = pd.read_csv(DATA / "caravan_insurance.csv")
    y = (d["Purchase"] == "Yes").to_numpy(float)
    X = d.drop(columns="Purchase").to_numpy(float)
    with pytest.raises(SeparationError, match="quasi-complete") as info:
        LogisticRegression(C=INF).fit(X, y)
    named = [d.columns[j] for j in info.value.columns]
    # One column alone separates: the contribution (PWERKT) or the number (AWERKT) of agricultural-machine
    # policies, which are > 0 in the same 21 rows. Checked by hand: none of those 21 holders bought.
    assert named in (["PWERKT"], ["AWERKT"])
    holders = d[named[0]] > 0
    assert holders.sum() == 21 and (d.loc[holders, "Purchase"] == "No").all()
    assert ((d["PWERKT"] > 0) == (d["AWERKT"] > 0)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit()
    assert glm.converged and np.max(np.abs(glm.params)) > 100  # "converged" to a coefficient of e^100 odds


def _firth_reference(X, y):
    """Independent maximiser of l(beta) + log det I(beta) / 2 by BFGS from scratch."""
    A = np.column_stack([np.ones(len(y)), X])

    def negative(beta):
        eta = A @ beta
        p = 1 / (1 + np.exp(-eta))
        info = A.T @ (A * (p * (1 - p))[:, None])
        return -(np.sum(y * eta - np.logaddexp(0, eta)) + 0.5 * np.linalg.slogdet(info)[1])

    return minimize(negative, np.zeros(A.shape[1]), method="BFGS", options={"gtol": 1e-10}).x


def test_firth_gives_finite_estimates_under_separation_and_matches_an_independent_optimiser():
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=40), rng.normal(size=40)])
    y = ((X[:, 0] + 0.2 * X[:, 1]) > 0).astype(float)
    model = LogisticRegression(firth=True, C=INF, tol=1e-10).fit(X, y)
    assert model.converged_ and np.all(np.abs(model.coef_) < 20)
    reference = _firth_reference(X, y)
    np.testing.assert_allclose(np.r_[model.intercept_, model.coef_[0]], reference, rtol=1e-5, atol=1e-6)
    result = inference(model, X, y, ci="profile")
    assert np.all(np.isfinite(result.conf_int))
    assert np.all(result.conf_int[:, 0] < result.params) and np.all(result.params < result.conf_int[:, 1])
    with pytest.raises(oddsline.ParameterError, match="firth=True"):
        LogisticRegression(firth=True).fit(X, y)


def test_profile_interval_bounds_are_where_the_likelihood_ratio_hits_the_chi2_quantile(default_data):
    X, y, _ = default_data
    X = X[:2000]
    y = y[:2000]
    model = LogisticRegression(C=INF, tol=1e-11).fit(X, y)
    result = inference(model, X, y, ci="profile")
    full = _statsmodels(X, y).llf
    for j in (0, 1):  # intercept and student, checked with statsmodels fits that carry an offset
        for bound in result.conf_int[j]:
            if j == 0:
                constrained = sm.GLM(y, X, family=sm.families.Binomial(), offset=np.full(len(y), bound)).fit(tol=1e-12)
            else:
                rest = sm.add_constant(np.delete(X, j - 1, axis=1))
                constrained = sm.GLM(y, rest, family=sm.families.Binomial(), offset=bound * X[:, j - 1]).fit(tol=1e-12)
            assert 2 * (full - constrained.llf) == pytest.approx(chi2.ppf(0.95, 1), rel=1e-6)
    wald = inference(model, X, y)
    np.testing.assert_allclose(result.conf_int, wald.conf_int, rtol=0.1)  # close, not equal


def test_aliased_columns_are_reported_and_dropped(default_data):
    X, y, names = default_data
    aliased = np.column_stack([X, X[:, 0] * 2.0 + X[:, 2]])  # an exact combination
    model = LogisticRegression(C=INF).fit(aliased, y)
    result = inference(model, aliased, y, feature_names=[*names, "combo"])
    assert result.aliased == ["combo"]
    assert np.isnan(result.params[-1]) and np.isnan(result.bse[-1])
    clean = inference(LogisticRegression(C=INF, tol=1e-11).fit(X, y), X, y)
    np.testing.assert_allclose(result.params[:-1], clean.params, rtol=1e-6)
    np.testing.assert_allclose(result.bse[:-1], clean.bse, rtol=1e-5)
    assert "aliased" in result.summary()


def test_l2_penalised_fit_gets_the_penalised_sandwich(default_data):
    X, y, _ = default_data
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    model = LogisticRegression(C=0.01).fit(Xs, y)
    result = inference(model, Xs, y)
    assert "penalised" in result.label
    A = np.column_stack([np.ones(len(y)), Xs])
    p = model.predict_proba(Xs)[:, 1]
    info = A.T @ (A * (p * (1 - p))[:, None])
    H = info + np.diag([0.0, 100.0, 100.0, 100.0])
    expected = np.linalg.inv(H) @ info @ np.linalg.inv(H)
    np.testing.assert_allclose(result.cov, expected, rtol=1e-8)


def test_l1_refuses_naive_p_values_and_offers_a_seeded_bootstrap(default_data):
    X, y, _ = default_data
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    model = LogisticRegression(C=0.05, l1_ratio=1.0).fit(Xs[:3000], y[:3000])
    with pytest.raises(InferenceError, match="post-selection"):
        inference(model, Xs[:3000], y[:3000])
    a = inference(model, Xs[:3000], y[:3000], ci="bootstrap", n_bootstrap=40, random_state=1)
    b = inference(model, Xs[:3000], y[:3000], ci="bootstrap", n_bootstrap=40, random_state=1)
    np.testing.assert_array_equal(a.conf_int, b.conf_int)
    assert np.all(np.isnan(a.pvalues))
    assert np.all(a.conf_int[:, 0] <= a.conf_int[:, 1])


def test_wald_intervals_cover_the_true_coefficient_95_percent_of_the_time():
    rng = np.random.default_rng(2024)
    beta = np.array([-0.5, 1.0, -0.7])
    hits = np.zeros(3)
    reps = 1000
    for _ in range(reps):
        X = rng.normal(size=(300, 2))
        y = (rng.uniform(size=300) < 1 / (1 + np.exp(-(beta[0] + X @ beta[1:])))).astype(float)
        result = inference(LogisticRegression(C=INF).fit(X, y), X, y)
        hits += (result.conf_int[:, 0] <= beta) & (beta <= result.conf_int[:, 1])
    coverage = hits / reps
    assert np.all((coverage >= 0.93) & (coverage <= 0.97)), coverage


def test_bad_arguments(default_data):
    X, y, _ = default_data
    model = LogisticRegression(C=INF).fit(X, y)
    with pytest.raises(oddsline.ParameterError, match="cov_type"):
        inference(model, X, y, cov_type="HC9")
    with pytest.raises(oddsline.ParameterError, match="groups"):
        inference(model, X, y, cov_type="cluster")
    with pytest.raises(oddsline.NotFittedError):
        inference(LogisticRegression(), X, y)


def test_model_inference_from_kept_matrices_equals_inference_on_the_data(tmp_path):
    table = oddsline.read_table(DATA / "telco_churn.csv")
    model = oddsline.train(table, target="churn", positive="Yes", test_size=0.0)
    kept = oddsline.load(model.save(tmp_path / "m.odl")).inference()
    recomputed = model.inference(data=table)
    assert kept.param_names == ["intercept", *model.design_names]
    np.testing.assert_allclose(kept.params, recomputed.params, rtol=1e-12)
    np.testing.assert_allclose(kept.bse, recomputed.bse, rtol=1e-9)
    assert "penalised" in kept.label
    robust = model.inference(data=table, cov_type="HC1")
    assert robust.bse.shape == kept.bse.shape
    with pytest.raises(oddsline.ParameterError, match="training rows"):
        model.inference(cov_type="HC1")


def test_training_names_separating_design_columns():
    rows = [{"plan": "gold", "x": float(i % 7), "churn": "Yes"} for i in range(20)]
    rows += [{"plan": "basic", "x": float(i % 5), "churn": "No"} for i in range(20)]
    with pytest.raises(SeparationError, match="plan="):
        oddsline.train(rows, target="churn", C=INF, test_size=0.0)


def test_vif_and_condition_number_match_statsmodels(credit_data):
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    X, y, names, _ = credit_data
    result = inference(LogisticRegression(C=INF).fit(X, y), X, y, feature_names=names)
    exog = sm.add_constant(X)
    expected = [variance_inflation_factor(exog, j + 1) for j in range(X.shape[1])]
    np.testing.assert_allclose(list(result.extra["vif"].values()), expected, rtol=1e-8)
    scaled = exog / np.linalg.norm(exog, axis=0)
    assert result.condition == pytest.approx(np.linalg.cond(scaled), rel=1e-6)
    assert "condition number" in result.summary()


def test_fair_affairs_separation_names_only_that_column_and_firth_converges_by_default():
    """statsmodels' fair: `affairs` > 0 is the event itself. The separation message names that one column
    (not others along the LP's direction), and Firth converges with its default settings."""
    d = sm.datasets.fair.load_pandas().data
    y = (d["affairs"] > 0).to_numpy(float)
    X = d.to_numpy(float)
    with pytest.raises(SeparationError, match=r"column\(s\) x8 separates") as info:
        LogisticRegression(C=INF).fit(X, y)
    assert info.value.columns == (list(d.columns).index("affairs"),)
    firth = LogisticRegression(C=INF, firth=True).fit(X, y)
    assert firth.converged_ and firth.fit_info_["grad_norm"] <= firth.tol
    assert np.all(np.isfinite(firth.coef_)) and firth.coef_[0, -1] > 10  # large, finite, positive


def test_a_dataframe_keeps_its_column_names_and_conf_int_is_callable_like_statsmodels():
    d = sm.datasets.spector.load_pandas().data
    X, y = d[["GPA", "TUCE", "PSI"]], d["GRADE"]
    estimator = LogisticRegression(C=INF).fit(X, y)
    assert list(estimator.feature_names_in_) == ["GPA", "TUCE", "PSI"]
    result = inference(estimator, X, y)
    assert result.param_names == ["intercept", "GPA", "TUCE", "PSI"]
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    for alpha in (0.05, 0.1, 0.01):
        np.testing.assert_allclose(result.conf_int(alpha), reference.conf_int(alpha).to_numpy(), atol=1e-6)
    np.testing.assert_allclose(np.asarray(result.conf_int), result.conf_int())  # still the array it was
    with pytest.raises(DataError, match="feature names should match"):
        estimator.predict_proba(X[["TUCE", "GPA", "PSI"]])
    profile = inference(estimator, X, y, ci="profile")
    with pytest.raises(InferenceError, match="level 0.95"):
        profile.conf_int(0.1)


def test_a_single_row_that_a_column_separates_is_caught():
    """A 0/1 column whose only 1 is a negative row: quasi-complete separation, though Newton's gradient
    test passes at a coefficient near -14 (the row's probability is then below 1e-6)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    y = (x + rng.normal(size=400) > 0).astype(float)
    flag = np.zeros(400)
    flag[np.flatnonzero(y == 0)[0]] = 1.0
    with pytest.raises(SeparationError, match=r"quasi-complete separation.*column\(s\) x1 "):
        LogisticRegression(C=INF).fit(np.column_stack([x, flag]), y)


def test_a_dataframe_separation_error_names_its_columns():
    d = sm.datasets.fair.load_pandas().data
    y = (d["affairs"] > 0).astype(float)
    with pytest.raises(SeparationError, match=r"column\(s\) affairs separates"):
        LogisticRegression(C=INF).fit(d, y)
