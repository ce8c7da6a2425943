"""oddsline.LogisticRegression is a scikit-learn estimator: its checks, Pipeline, GridSearchCV, CV."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from oddsline import LogisticRegression


@pytest.mark.filterwarnings("ignore::UserWarning")  # "does not inherit from BaseEstimator", skip notices
def test_passes_sklearn_check_estimator():
    results = check_estimator(LogisticRegression(), on_fail=None)
    failed = [(r["check_name"], repr(r["exception"])[:300]) for r in results if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) >= 60


def test_pipeline_gridsearch_and_cross_validation():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    search = GridSearchCV(pipe, {"logisticregression__C": [0.01, 0.1, 1.0]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.95
    scores = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(C=0.1)), X, y, cv=5)
    assert scores.mean() > 0.95
    model = clone(LogisticRegression(C=0.5, l1_ratio=0.3))
    assert model.get_params()["l1_ratio"] == 0.3


def test_not_fitted_error_is_also_sklearns():
    from sklearn.exceptions import NotFittedError as SkNotFittedError

    import oddsline

    with pytest.raises(SkNotFittedError):
        LogisticRegression().predict(np.ones((2, 2)))
    with pytest.raises(oddsline.NotFittedError):
        LogisticRegression().predict(np.ones((2, 2)))
