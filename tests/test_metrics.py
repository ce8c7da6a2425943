"""Metrics agree with scikit-learn's on random and tied scores, weighted and not."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from oddsline import DataError
from oddsline.metrics import accuracy, brier_score, log_loss, roc_auc


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_agree_with_sklearn(seed, weighted, ties):
    rng = np.random.default_rng(seed)
    n = 500
    y = (rng.uniform(size=n) < 0.3).astype(float)
    p = rng.uniform(size=n)
    if ties:
        p = np.round(p, 1)
    w = rng.uniform(0.1, 3, size=n) if weighted else None
    assert roc_auc(y, p, w) == pytest.approx(sk.roc_auc_score(y, p, sample_weight=w), rel=1e-12)
    assert log_loss(y, p, w) == pytest.approx(sk.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), sample_weight=w), rel=1e-12)
    assert brier_score(y, p, w) == pytest.approx(sk.brier_score_loss(y, p, sample_weight=w), rel=1e-12)
    assert accuracy(y, p, 0.5, w) == pytest.approx(sk.accuracy_score(y, p >= 0.5, sample_weight=w), rel=1e-12)


def test_bad_inputs():
    with pytest.raises(DataError, match="only one"):
        roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(DataError, match="differ in length"):
        log_loss([0, 1], [0.5])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        brier_score([0, 1], [0.5, 1.5])


# -- the full metric set, against scikit-learn and statsmodels ------------------------------------------


def _scores(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 3, size=n)
    y = (rng.uniform(size=n) < p).astype(float)
    w = rng.uniform(0.5, 2.0, size=n)
    return y, p, w


def test_threshold_metrics_and_curves_match_sklearn():
    from sklearn import metrics as sk

    from oddsline.metrics import at_threshold, average_precision, pr_curve, precision_at_k, recall_at_k, roc_curve

    y, p, w = _scores()
    p = np.round(p, 2)  # ties, so the curves' grouping of equal scores is exercised
    for weights in (None, w):
        assert average_precision(y, p, weights) == pytest.approx(
            sk.average_precision_score(y, p, sample_weight=weights), rel=1e-12
        )
        got = at_threshold(y, p, 0.4, weights, beta=2.0)
        decided = (p >= 0.4).astype(int)
        assert got["precision"] == pytest.approx(sk.precision_score(y, decided, sample_weight=weights), rel=1e-12)
        assert got["recall"] == pytest.approx(sk.recall_score(y, decided, sample_weight=weights), rel=1e-12)
        assert got["f_beta"] == pytest.approx(sk.fbeta_score(y, decided, beta=2.0, sample_weight=weights), rel=1e-12)
        tn, fp, fn, tp = sk.confusion_matrix(y, decided, sample_weight=weights).ravel()
        assert (got["tn"], got["fp"], got["fn"], got["tp"]) == pytest.approx((tn, fp, fn, tp))
        fpr, tpr, _ = sk.roc_curve(y, p, sample_weight=weights, drop_intermediate=False)
        ours = roc_curve(y, p, weights)
        np.testing.assert_allclose(ours["fpr"], fpr, atol=1e-12)
        np.testing.assert_allclose(ours["tpr"], tpr, atol=1e-12)
        precision, recall, _ = sk.precision_recall_curve(y, p, sample_weight=weights, drop_intermediate=False)
        pr = pr_curve(y, p, weights)
        np.testing.assert_allclose(pr["precision"], precision[:-1][::-1], atol=1e-12)
        np.testing.assert_allclose(pr["recall"], recall[:-1][::-1], atol=1e-12)
    order = np.argsort(-p, kind="mergesort")[:100]
    assert precision_at_k(y, p, 100) == pytest.approx(y[order].mean())
    assert recall_at_k(y, p, 100) == pytest.approx(y[order].sum() / y.sum())


def test_calibration_diagnostics_against_references():
    import statsmodels.api as sm
    from sklearn.calibration import calibration_curve

    from oddsline.metrics import (
        brier_decomposition,
        calibration_slope_intercept,
        expected_calibration_error,
        reliability_curve,
    )

    y, p, _ = _scores()
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    curve = reliability_curve(y, p, 10, "width")
    np.testing.assert_allclose(curve["observed"], observed, rtol=1e-12)
    np.testing.assert_allclose(curve["predicted"], predicted, rtol=1e-12)
    bins = np.minimum((p * 10).astype(int), 9)
    by_hand = sum(abs(y[bins == b].mean() - p[bins == b].mean()) * (bins == b).sum() for b in np.unique(bins)) / len(y)
    assert expected_calibration_error(y, p) == pytest.approx(by_hand, rel=1e-12)
    z = np.log(p / (1 - p))
    fit = sm.Logit(y, sm.add_constant(z)).fit(disp=0, tol=1e-12)
    got = calibration_slope_intercept(y, p)
    assert (got["intercept"], got["slope"]) == pytest.approx(tuple(fit.params), rel=1e-8)
    offset = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=z).fit(tol=1e-12)
    assert got["in_the_large"] == pytest.approx(offset.params[0], rel=1e-8, abs=1e-10)
    parts = brier_decomposition(y, p)
    assert parts["reliability"] - parts["resolution"] + parts["uncertainty"] + parts["within_bin"] == pytest.approx(
        parts["brier"]
    )
    assert parts["uncertainty"] == pytest.approx(y.mean() * (1 - y.mean()))


def test_lift_table_gains_reach_one_and_lift_averages_one():
    from oddsline.metrics import lift_table

    y, p, _ = _scores()
    table = lift_table(y, p, 10)
    assert table[-1]["cumulative_gain"] == pytest.approx(1.0)
    assert np.mean([row["lift"] for row in table]) == pytest.approx(1.0, rel=1e-3)
    assert table[0]["lift"] > table[-1]["lift"]


def test_bootstrap_interval_of_the_auc_covers_the_truth_about_95_percent():
    from scipy.stats import norm

    from oddsline.metrics import bootstrap_intervals, roc_auc

    rng = np.random.default_rng(7)
    shift = 1.0
    truth = norm.cdf(shift / np.sqrt(2))  # binormal AUC
    covered, sims = 0, 300
    for _ in range(sims):
        y = (rng.uniform(size=300) < 0.4).astype(float)
        score = rng.normal(size=300) + shift * y
        p = 1 / (1 + np.exp(-score))
        auc = roc_auc(y, p)
        low, high = bootstrap_intervals(y, p, {"roc_auc": auc}, n_resamples=400, seed=int(rng.integers(1 << 31)))[
            "roc_auc"
        ]
        covered += low <= truth <= high
    assert 0.93 <= covered / sims <= 0.97


def test_bootstrap_of_many_rows_bins_scores_without_bias():
    from oddsline.metrics import evaluate

    y, p, _ = _scores(n=20_000, seed=3)
    result = evaluate(y, p, n_bootstrap=300)
    for name in ("roc_auc", "log_loss", "accuracy", "average_precision", "ece", "calibration_slope"):
        low, high = result["intervals"][name]
        assert low < result[name] < high, name
    low, high = result["intervals"]["calibration_slope"]
    assert low < 1.0 < high  # the scores are calibrated by construction
    low, high = result["intervals"]["calibration_intercept"]
    assert low < 0.0 < high
    # 20k distinct scores > 2048 cells: binned; the AUC interval's width matches the Hanley-McNeil SE.
    auc, n1, n0 = result["roc_auc"], y.sum(), (1 - y).sum()
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    se = np.sqrt((auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2)) / (n1 * n0))
    low, high = result["intervals"]["roc_auc"]
    assert (high - low) / (2 * 1.96 * se) == pytest.approx(1.0, abs=0.15)


def test_multiclass_variants_match_sklearn():
    from oddsline.metrics import accuracy_multiclass, brier_multiclass, log_loss_multiclass, roc_auc_ovr

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(600, 4))
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in P])
    w = rng.uniform(0.5, 2, size=600)
    for weights in (None, w):
        assert log_loss_multiclass(y, P, weights) == pytest.approx(sk.log_loss(y, P, sample_weight=weights), rel=1e-12)
        assert accuracy_multiclass(y, P, weights) == pytest.approx(
            sk.accuracy_score(y, P.argmax(1), sample_weight=weights)
        )
        for average in ("macro", "weighted"):
            expected = sk.roc_auc_score(y, P, multi_class="ovr", average=average, sample_weight=weights)
            assert roc_auc_ovr(y, P, weights, average) == pytest.approx(expected, rel=1e-10)
    onehot = np.eye(4)[y]
    assert brier_multiclass(y, P) == pytest.approx(np.mean(((P - onehot) ** 2).sum(axis=1)))
    with pytest.raises(DataError, match="class indices"):
        log_loss_multiclass(np.full(600, 7), P)


def test_temperature_scaling_recovers_the_temperature_and_keeps_the_argmax():
    from oddsline.calibration import fit_temperature

    rng = np.random.default_rng(1)
    true = rng.normal(size=(20_000, 5)) * 1.5
    P = np.exp(true) / np.exp(true).sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) > rng.uniform(size=(20_000, 1))).argmax(axis=1)
    overconfident = true * 3.0  # a model whose logits are three times too large
    scaler = fit_temperature(y, overconfident)
    assert scaler.temperature == pytest.approx(3.0, rel=0.05)
    calibrated = scaler.apply(overconfident)
    np.testing.assert_array_equal(calibrated.argmax(axis=1), overconfident.argmax(axis=1))
    assert sk.log_loss(y, calibrated) < sk.log_loss(y, scaler.__class__(1.0).apply(overconfident))


def test_top_share_metrics_equal_precision_and_recall_at_k_and_weights_equal_repeats():
    from oddsline.metrics import at_top, precision_at_k, recall_at_k

    y, p, _ = _scores(n=1_000, seed=5)
    top = at_top(y, p, 0.2)
    assert top["precision_at_k"] == pytest.approx(precision_at_k(y, p, 200), rel=1e-12)
    assert top["recall_at_k"] == pytest.approx(recall_at_k(y, p, 200), rel=1e-12)
    assert top["lift_at_k"] == pytest.approx(top["precision_at_k"] / y.mean(), rel=1e-12)
    counts = np.random.default_rng(0).integers(1, 4, size=y.shape[0])
    weighted = at_top(y, p, 0.2, counts)
    repeated = at_top(np.repeat(y, counts), np.repeat(p, counts), 0.2)
    assert weighted == pytest.approx(repeated, rel=1e-12)
    with pytest.raises(Exception, match="fraction"):
        at_top(y, p, 0.0)


def test_bootstrap_intervals_of_rates_have_the_binomial_width():
    """FPR, FNR and precision@k are proportions of fixed-size groups: their 95% interval is about
    2 x 1.96 x sqrt(r (1 - r) / m) wide."""
    from oddsline.metrics import evaluate

    y, p, _ = _scores(n=20_000, seed=11)
    result = evaluate(y, p, n_bootstrap=400, top_fraction=0.1)
    n1, n0 = y.sum(), (1 - y).sum()
    for name, m in (("fpr", n0), ("fnr", n1), ("precision_at_k", 0.1 * y.shape[0])):
        r = result[name]
        low, high = result["intervals"][name]
        assert low < r < high, name
        assert (high - low) / (2 * 1.96 * np.sqrt(r * (1 - r) / m)) == pytest.approx(1.0, abs=0.15), name
    for name in ("ece_equal_mass", "recall_at_k", "lift_at_k", "brier_resolution", "calibration_intercept"):
        low, high = result["intervals"][name]
        assert low < result[name] < high, name


def test_multiclass_bootstrap_covers_the_true_accuracy_and_matches_its_binomial_width():
    from oddsline.metrics import evaluate_multiclass

    rng = np.random.default_rng(2)
    covered, sims = 0, 100
    for _ in range(sims):
        logits = rng.normal(size=(400, 3)) * 1.5
        P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = (P.cumsum(axis=1) > rng.uniform(size=(400, 1))).argmax(axis=1)
        truth = P.max(axis=1).mean()  # expected accuracy of the argmax under these P
        result = evaluate_multiclass(y, P, n_bootstrap=200, seed=int(rng.integers(1 << 31)))
        low, high = result["intervals"]["accuracy"]
        covered += low <= truth <= high
        for name in ("log_loss", "brier", "roc_auc_ovr"):
            assert result["intervals"][name][0] < result[name] < result["intervals"][name][1], name
    assert covered / sims >= 0.88
    a = result["accuracy"]
    low, high = result["intervals"]["accuracy"]
    assert (high - low) / (2 * 1.96 * np.sqrt(a * (1 - a) / 400)) == pytest.approx(1.0, abs=0.2)
