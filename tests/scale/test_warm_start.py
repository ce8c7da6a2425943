"""A streamed fit on a source much larger than its row sample starts at the sample's optimum: the same
answer as the exact optimum computed in memory, in fewer passes than from the intercept. On the bundled
telco churn table, stacked 32 times (225,376 rows: four times the 50,000-row sample and more)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import oddsline
from oddsline.core.objective import Problem
from oddsline.core.solvers import fit_cd, fit_newton
from oddsline.distributed import LocalEngine, train_streamed, warm_start
from oddsline.distributed.kernel import encode_labels
from oddsline.distributed.summary import SAMPLE_ROWS
from oddsline.sources import open_source

SPEC = oddsline.FeatureSpec.from_dict(
    {
        "columns": [
            {"name": "tenure", "kind": "numeric"},
            {"name": "monthly_charges", "kind": "numeric", "log1p": True},
            {"name": "total_charges", "kind": "numeric"},
            {"name": "senior_citizen", "kind": "boolean"},
            {"name": "contract", "kind": "categorical"},
            {"name": "payment_method", "kind": "categorical"},
            {"name": "internet_service", "kind": "categorical"},
        ]
    }
)


@pytest.fixture(scope="module")
def stacked(stacked_telco: tuple[pa.Table, Path]) -> tuple[pa.Table, Path]:
    assert stacked_telco[0].num_rows >= warm_start.MIN_SOURCE_TO_SAMPLE * SAMPLE_ROWS
    return stacked_telco


def _design(model: oddsline.Model, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    X = np.ascontiguousarray(model.features.transform(table))
    return X, encode_labels(model.target, table.column(model.target.name))


def test_newton_starts_at_the_sample_optimum_and_ends_at_the_exact_one(
    stacked: tuple[pa.Table, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    table, folder = stacked
    model = train_streamed(open_source(folder), "churn", engine=LocalEngine(2), spec=SPEC, test_size=0, tol=1e-12)
    fit = model.info["fit"]
    assert fit["start"]["from"] == "sample" and fit["start"]["rows"] == SAMPLE_ROWS and fit["converged"]
    X, y = _design(model, table)
    exact = fit_newton(Problem(X, y, np.ones(y.size), C=1.0), np.zeros(X.shape[1] + 1), tol=1e-13, max_iter=50)
    assert exact.converged
    np.testing.assert_allclose(np.r_[model.coef, model.intercept], exact.theta, rtol=1e-9, atol=1e-11)
    # The same fit from the intercept, as a source smaller than four samples would be fitted.
    monkeypatch.setattr(warm_start, "MIN_SOURCE_TO_SAMPLE", 10**9)
    cold = train_streamed(open_source(folder), "churn", engine=LocalEngine(2), spec=SPEC, test_size=0, tol=1e-12)
    assert cold.info["fit"]["start"] == {"from": "intercept"}
    assert fit["passes"] < cold.info["fit"]["passes"]
    np.testing.assert_allclose(cold.coef, model.coef, rtol=1e-9, atol=1e-11)


def test_class_weights_and_elastic_net_start_from_the_sample_too(stacked: tuple[pa.Table, Path]) -> None:
    table, folder = stacked
    model = train_streamed(
        open_source(folder),
        "churn",
        engine=LocalEngine(2),
        spec=SPEC,
        test_size=0,
        C=0.002,
        l1_ratio=0.5,
        class_weight="balanced",
        tol=1e-10,
    )
    assert model.info["fit"]["start"]["from"] == "sample" and model.info["fit"]["solver"] == "cd"
    X, y = _design(model, table)
    positives = y.sum()
    w = np.where(y == 1, y.size / (2 * positives), y.size / (2 * (y.size - positives)))
    problem = Problem(X, y, w, C=0.002, l1_ratio=0.5)
    exact = fit_cd(problem, np.zeros(X.shape[1] + 1), tol=1e-12, max_iter=500)
    assert exact.converged and (exact.theta[:-1] == 0).any()
    assert np.array_equal(model.coef == 0, exact.theta[:-1] == 0)  # the same columns dropped
    np.testing.assert_allclose(np.r_[model.coef, model.intercept], exact.theta, rtol=1e-7, atol=1e-9)


def test_an_unpenalised_fit_starts_from_the_intercept(stacked: tuple[pa.Table, Path]) -> None:
    _, folder = stacked
    spec = oddsline.FeatureSpec.from_dict({"columns": [{"name": "tenure", "kind": "numeric"}]})
    model = train_streamed(open_source(folder), "churn", engine=LocalEngine(2), spec=spec, test_size=0, C=float("inf"))
    assert model.info["fit"]["start"] == {"from": "intercept"} and model.info["fit"]["converged"]
