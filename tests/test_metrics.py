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
