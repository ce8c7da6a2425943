"""Calibration and thresholds: against scikit-learn/statsmodels and brute force; used end to end."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

import oddsline
from oddsline import ParameterError
from oddsline.calibration import Calibrator, fit_calibrator
from oddsline.threshold import choose_threshold


def _scores(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n) * 1.5
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(float)
    p = 1 / (1 + np.exp(-0.4 * z))  # too timid: an over-regularised model's scores
    return y, p


def test_isotonic_matches_sklearn():
    from sklearn.isotonic import IsotonicRegression

    y, p = _scores()
    p = np.round(p, 3)  # ties
    w = np.random.default_rng(1).uniform(0.5, 2, size=p.shape[0])
    ours = fit_calibrator(y, p, "isotonic", w)
    reference = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y, sample_weight=w)
    grid = np.linspace(-0.1, 1.1, 2001)
    np.testing.assert_allclose(ours.apply(grid), reference.predict(grid), atol=1e-12)
    for x in grid[::50]:
        assert ours.apply_one(float(x)) == ours.apply(np.array([x]))[0]


def test_platt_matches_a_logistic_fit_on_the_logit():
    import statsmodels.api as sm

    y, p = _scores()
    ours = fit_calibrator(y, p, "platt")
    z = np.log(p / (1 - p))
    fit = sm.Logit(y, sm.add_constant(z)).fit(disp=0, tol=1e-12)
    assert (ours.a, ours.b) == pytest.approx(tuple(fit.params), rel=1e-8)
    assert ours.b == pytest.approx(2.5, rel=0.1)  # undoes the 0.4 shrinkage
    again = Calibrator.from_dict(ours.to_dict())
    np.testing.assert_array_equal(again.apply(p), ours.apply(p))


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_lowers_held_out_ece_of_an_over_regularised_model(method, telco_table):
    plain = oddsline.train(telco_table, target="churn", positive="Yes", C=0.0005, seed=3)
    calibrated = oddsline.train(telco_table, target="churn", positive="Yes", C=0.0005, seed=3, calibrate=method)
    before, after = plain.info["evaluation"]["ece"], calibrated.info["evaluation"]["ece"]
    assert after < before - 0.02, (before, after)
    raw = calibrated.predict_proba(telco_table.slice(0, 5), raw=True)[:, 1]
    np.testing.assert_array_equal(raw, plain.predict_proba(telco_table.slice(0, 5))[:, 1])
    row = telco_table.slice(7, 1).to_pylist()[0]
    assert calibrated.predict_one(row).probability == calibrated.predict_proba(telco_table.slice(7, 1))[0, 1]


def test_cost_threshold_is_the_brute_force_minimiser():
    y, p = _scores(n=600, seed=4)
    p = np.round(p, 2)
    choice = choose_threshold(y, p, "cost:fp=1,fn=5")
    candidates = np.r_[np.unique(p), 1.0 + 1e-9]
    costs = [1 * np.sum((p >= t) & (y == 0)) + 5 * np.sum((p < t) & (y == 1)) for t in candidates]
    best = float(np.min(costs))
    assert choice.value == pytest.approx(best)
    chosen_cost = 1 * np.sum((p >= choice.threshold) & (y == 0)) + 5 * np.sum((p < choice.threshold) & (y == 1))
    assert chosen_cost == pytest.approx(best)


def test_threshold_rules_against_brute_force():
    from sklearn.metrics import f1_score, precision_score, recall_score

    y, p = _scores(n=800, seed=5)
    p = np.round(p, 3)
    grid = np.unique(p)
    f1s = [f1_score(y, p >= t) for t in grid]
    assert choose_threshold(y, p, "f1").value == pytest.approx(max(f1s))
    choice = choose_threshold(y, p, "precision>=0.7")
    ok = [t for t in grid if precision_score(y, p >= t, zero_division=0) >= 0.7]
    assert choice.threshold == pytest.approx(min(ok))
    choice = choose_threshold(y, p, "recall>=0.8")
    ok = [t for t in grid if recall_score(y, p >= t) >= 0.8]
    assert choice.threshold == pytest.approx(max(ok))
    top = choose_threshold(y, p, "top=10%")
    assert np.mean(p >= top.threshold) >= 0.1 and np.mean(p > top.threshold) < 0.1 + 1e-12
    for bad in ("cost:fp=-1,fn=2", "precision>=2", "median", "top=0%"):
        with pytest.raises(ParameterError):
            choose_threshold(y, p, bad)


def test_trained_threshold_and_calibrator_survive_the_model_file(telco_table, tmp_path):
    model = oddsline.train(telco_table, target="churn", positive="Yes", calibrate="isotonic", threshold="f1")
    assert model.params["threshold_rule"] == "f1" and not math.isclose(model.threshold, 0.5)
    again = oddsline.load(model.save(tmp_path / "m.odl"))
    assert again.threshold == model.threshold and again.calibrator == model.calibrator
    rows = telco_table.slice(0, 100)
    np.testing.assert_array_equal(again.predict_proba(rows), model.predict_proba(rows))
    with pytest.raises(ParameterError, match="calibrate must be one of"):
        oddsline.train(telco_table, target="churn", positive="Yes", calibrate="beta")
    with pytest.raises(ParameterError, match="unknown threshold rule"):
        oddsline.train(pa.table({"x": [0.0, 1.0] * 20, "y": [0, 1] * 20}), target="y", threshold="best")
