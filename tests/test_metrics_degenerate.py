"""Predictions that are constant or exactly 0/1, and labels of one class (issue 17, item 7): every
metric is defined and equal to scikit-learn's / statsmodels', or None with a reason; nothing raises,
nothing warns (warnings are errors here), and the result is valid JSON (the CLI and the model file
refuse NaN)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from sklearn import metrics as sk

from oddsline.metrics import (
    BOOTSTRAP_METRICS,
    bootstrap_intervals,
    calibration_slope_intercept,
    evaluate,
    evaluate_multiclass,
)
from oddsline.metrics.bootstrap import _cells, _recalibration
from oddsline.metrics.reliability import _recalibration as one_sample_fit
from oddsline.metrics.reliability import _undefined

RNG = np.random.default_rng(17)
Y = (RNG.uniform(size=300) < 0.3).astype(float)
SOME_WRONG = np.where(RNG.uniform(size=300) < 0.1, 1 - Y, Y)  # hard labels, 10% flipped
CONFIDENT_LOSS = -math.log(1e-15)  # what one confident mistake costs (clip at 1e-15)

CASES = {
    "constant": (Y, np.full(300, 0.3)),
    "constant 0": (Y, np.zeros(300)),
    "constant 1": (Y, np.ones(300)),
    "hard labels, all right": (Y, Y.copy()),
    "hard labels, some wrong": (Y, SOME_WRONG),
    "hard labels, all wrong (a reversed clip)": (Y, 1 - Y),
    "only negatives": (np.zeros(300), RNG.uniform(size=300)),
    "only positives": (np.ones(300), RNG.uniform(size=300)),
    "only negatives, constant": (np.zeros(300), np.full(300, 0.2)),
    "one row": (np.array([1.0]), np.array([0.7])),
}


def _consistent(result: dict) -> None:
    """None exactly where a reason is given; no interval for an undefined metric; valid JSON."""
    json.dumps(result, allow_nan=False)
    undefined = result.get("undefined", {})
    assert {k for k, v in result.items() if v is None} == set(undefined)
    assert all(isinstance(why, str) and why for why in undefined.values())
    assert not set(undefined) & set(result.get("intervals", {}))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("n_bootstrap", [0, 200])
def test_evaluate_never_raises_and_agrees_with_sklearn_where_defined(case, n_bootstrap):
    y, p = CASES[case]
    result = evaluate(y, p, n_bootstrap=n_bootstrap)
    _consistent(result)
    assert result["log_loss"] == pytest.approx(sk.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]), rel=1e-12)
    assert result["brier"] == pytest.approx(sk.brier_score_loss(y, p, labels=[0, 1]), abs=1e-15)
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(y, p >= 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns where it returns its conventions
        auc = sk.roc_auc_score(y, p) if y.min() < y.max() else math.nan
        ap = sk.average_precision_score(y, p)
    if math.isnan(auc):
        assert result["roc_auc"] is None and "both classes" in result["undefined"]["roc_auc"]
    else:
        assert result["roc_auc"] == pytest.approx(auc, rel=1e-12)
    if y.sum() == 0:  # scikit-learn's 0.0 is a convention; here it has no value
        assert result["average_precision"] is None and "positive" in result["undefined"]["average_precision"]
    else:
        assert result["average_precision"] == pytest.approx(ap, rel=1e-12)
    bins = np.minimum((p * 10).astype(int), 9)
    by_hand = sum(abs(y[bins == b].sum() - p[bins == b].sum()) for b in np.unique(bins)) / len(y)
    assert result["ece"] == pytest.approx(by_hand, abs=1e-12)
    for name, bounds in result.get("intervals", {}).items():
        if name in BOOTSTRAP_METRICS:
            assert bounds[0] <= result[name] <= bounds[1], name


def test_the_calibration_slope_is_undefined_for_the_right_reason():
    reasons = {case: evaluate(*CASES[case], n_bootstrap=0).get("undefined", {}) for case in CASES}
    for case in ("constant", "constant 0", "constant 1"):
        assert "constant" in reasons[case]["calibration_slope"]
    for case in ("hard labels, all right", "hard labels, all wrong (a reversed clip)"):
        assert "separate the classes" in reasons[case]["calibration_slope"]
    for case in ("only negatives", "only positives", "one row"):
        assert "both classes" in reasons[case]["calibration_slope"]
        assert "both classes" in reasons[case]["calibration_in_the_large"]
    assert "calibration_slope" not in reasons["hard labels, some wrong"]


def test_log_loss_charges_a_confident_mistake_34_5_like_sklearn_before_1_5():
    """p exactly 0 or 1 and wrong: clipped at 1e-15 (scikit-learn's eps until 1.5; it now clips at
    2.2e-16 and charges 36.0), so finite; a right answer costs -log(1 - 1e-15), about 1e-15."""
    y, p = CASES["hard labels, some wrong"]
    wrong = np.mean(y != p)
    assert 0 < wrong < 0.2
    # 1 - 1e-15 rounds to 1 - 0.9992e-15 in float64, so a wrong p = 1 costs 34.5396 and a wrong p = 0 34.5388
    assert evaluate(y, p, n_bootstrap=0)["log_loss"] == pytest.approx(wrong * CONFIDENT_LOSS, rel=1e-4)
    reversed_clip = evaluate(*CASES["hard labels, all wrong (a reversed clip)"], n_bootstrap=0)
    assert reversed_clip["log_loss"] == pytest.approx(CONFIDENT_LOSS, rel=1e-4)


def test_hard_labels_with_some_mistakes_recalibrate_like_statsmodels():
    """Two distinct scores z = +-34.5 and both classes at each: the recalibration has the closed form
    a + b z = logit(observed rate) at each score, and statsmodels' fit."""
    import statsmodels.api as sm

    y, p = CASES["hard labels, some wrong"]
    q = np.clip(p, 1e-15, 1 - 1e-15)
    z = np.log(q) - np.log1p(-q)
    got = calibration_slope_intercept(y, p)
    fit = sm.Logit(y, sm.add_constant(z)).fit(disp=0, tol=1e-12)
    assert (got["intercept"], got["slope"]) == pytest.approx(tuple(fit.params), rel=1e-8)
    logit = lambda r: math.log(r / (1 - r))  # noqa: E731
    high, low = logit(y[p == 1].mean()), logit(y[p == 0].mean())
    assert got["slope"] == pytest.approx((high - low) / (z.max() - z.min()), rel=1e-6)


def test_all_right_hard_labels_are_calibrated_in_the_large_at_half_the_log_odds_ratio():
    """With z1 = logit(1 - 1e-15) for the positives and z0 = logit(1e-15) for the negatives, the score
    equation n1 e^-(a0 + z1) = n0 e^(a0 + z0) gives a0 = (log(n1 / n0) - z1 - z0) / 2."""
    y, p = CASES["hard labels, all right"]
    got = calibration_slope_intercept(y, p)
    assert math.isnan(got["slope"]) and math.isnan(got["intercept"])
    q = np.clip(np.array([1.0, 0.0]), 1e-15, 1 - 1e-15)
    z1, z0 = np.log(q) - np.log1p(-q)
    assert got["in_the_large"] == pytest.approx(0.5 * (math.log(y.sum() / (1 - y).sum()) - z1 - z0), abs=1e-9)


def test_bootstrap_recalibration_equals_the_one_sample_fit_and_is_nan_where_a_resample_separates():
    """The vectorised Newton of the bootstrap (from the full-sample estimate, no step halving) against
    the one-sample fit (from the null model, with step halving), resample by resample, on hard labels:
    some resamples of 12 rows separate the classes, some do not."""
    rng = np.random.default_rng(3)
    y = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0], dtype=float)
    p = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0.5, 0.5, 0.2, 0.7])
    cells = _cells(y, p, np.ones_like(y), 0.5, 2048)
    start = calibration_slope_intercept(y, p)
    counts = rng.poisson(cells.weight, size=(200, cells.weight.shape[0])).astype(float)
    a, b = _recalibration(counts, cells.positive, cells.z_mean, (start["intercept"], start["slope"]))
    labels, nan_rows = cells.positive.astype(float), 0
    for row in range(counts.shape[0]):
        if _undefined(labels, cells.z_mean, counts[row]):
            assert math.isnan(a[row]) and math.isnan(b[row])
            nan_rows += 1
        else:
            one = one_sample_fit(labels, cells.z_mean, counts[row])
            assert (a[row], b[row]) == pytest.approx(one, rel=1e-7, abs=1e-9)
    assert 0 < nan_rows < counts.shape[0]


def test_bootstrap_intervals_skip_undefined_estimates():
    y, p = CASES["only negatives"]
    got = bootstrap_intervals(y, p, {"roc_auc": None, "log_loss": 0.7, "ece": math.nan}, n_resamples=50)
    assert set(got) == {"log_loss"}


def test_multiclass_with_an_absent_class_reports_the_auc_as_undefined():
    rng = np.random.default_rng(0)
    P = rng.dirichlet([1, 1, 1], 200)
    result = evaluate_multiclass(np.zeros(200, dtype=int), P, n_bootstrap=100)
    _consistent(result)
    assert "both classes" in result["undefined"]["roc_auc_ovr"]
    assert result["log_loss"] == pytest.approx(sk.log_loss(np.zeros(200), P, labels=[0, 1, 2]), rel=1e-12)


def test_small_random_samples_with_hard_and_tied_predictions_never_raise_or_warn():
    """Where resamples of a few rows lose a class or separate it, their metrics are left out."""
    rng = np.random.default_rng(20)
    for trial in range(120):
        n = int(rng.integers(1, 40))
        y = (rng.uniform(size=n) < 0.4).astype(float)
        p = [
            np.where(rng.uniform(size=n) < 0.2, 1 - y, y),
            np.clip(0.9 * y + rng.normal(0, 0.1, n), 0, 1),
            rng.choice([0.0, 0.5, 1.0], n),
            rng.uniform(size=n) ** 3,
        ][trial % 4]
        result = evaluate(y, p, n_bootstrap=50, seed=trial)
        _consistent(result)
        for name, (low, high) in ((k, v) for k, v in result.get("intervals", {}).items() if isinstance(v, list)):
            assert np.isfinite(low) and np.isfinite(high) and low <= result[name] <= high, (trial, name)
