"""Multiclass models: softmax fit equal to scikit-learn's, temperature calibration stored in the
file, evaluation with intervals, and clear refusals where only binary models go."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.metrics import log_loss

import oddsline
from oddsline import ParameterError, SchemaError, TargetError

DATA = Path(__file__).parent.parent / "examples" / "data"
FEATURES = ["carrier", "dest", "distance", "hour", "month", "origin"]


@pytest.fixture(scope="module")
def flights():
    """Predict the departure airport (3 classes) of real flights from carrier, destination and time."""
    return pq.read_table(DATA / "nyc_flights_2013_sample.parquet", columns=FEATURES).slice(0, 8_000)


@pytest.fixture(scope="module")
def model(flights):
    return oddsline.train_multiclass(flights, "origin", C=1.0, calibrate="temperature", seed=1)


def test_probabilities_equal_a_scikit_learn_softmax_fit_on_the_same_design(flights):
    every_row = oddsline.train_multiclass(flights, "origin", C=1.0, test_size=0.0)
    X = every_row.features.transform(flights)
    y = every_row.target.encode(flights)
    reference = SkLogisticRegression(C=1.0, solver="newton-cg", tol=1e-10, max_iter=1_000).fit(X, y)
    P = every_row.predict_proba(flights, raw=True)
    np.testing.assert_allclose(P, reference.predict_proba(X), atol=1e-6)
    assert every_row.temperature is None
    np.testing.assert_array_equal(every_row.predict_proba(flights), P)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert every_row.classes == ["EWR", "JFK", "LGA"]


def test_temperature_is_stored_changes_probabilities_but_never_the_class(model, flights, tmp_path):
    assert model.temperature is not None and model.temperature != pytest.approx(1.0, abs=1e-3)
    calibrated, raw = model.predict_proba(flights), model.predict_proba(flights, raw=True)
    assert not np.allclose(calibrated, raw)
    np.testing.assert_array_equal(calibrated.argmax(axis=1), raw.argmax(axis=1))
    np.testing.assert_array_equal(model.predict(flights), np.array(model.classes, dtype=object)[raw.argmax(axis=1)])
    path = model.save(tmp_path / "origin.odl")
    loaded = oddsline.load(path)
    assert isinstance(loaded, oddsline.MulticlassModel)
    assert loaded.temperature == model.temperature
    np.testing.assert_array_equal(loaded.predict_proba(flights), calibrated)
    assert loaded.info["evaluation"]["n_rows"] == model.info["n_test"]


def test_temperature_repairs_an_over_regularised_model_on_held_out_rows(flights):
    """A heavy penalty shrinks the logits (timid probabilities): T < 1 sharpens them and the held-out
    log loss falls."""
    train, test = flights.slice(0, 6_000), flights.slice(6_000)
    timid = oddsline.train_multiclass(train, "origin", C=0.002, calibrate="temperature", test_size=0.0)
    y = timid.target.encode(test)
    assert timid.temperature < 0.9
    assert log_loss(y, timid.predict_proba(test)) < log_loss(y, timid.predict_proba(test, raw=True)) - 0.005


def test_evaluation_agrees_with_scikit_learn_and_carries_intervals(model, flights):
    result = model.evaluate(flights, n_bootstrap=200)
    y, P = model.target.encode(flights), model.predict_proba(flights)
    assert result["log_loss"] == pytest.approx(log_loss(y, P), rel=1e-10)
    for name in ("log_loss", "brier", "accuracy", "roc_auc_ovr"):
        low, high = result["intervals"][name]
        assert low < result[name] < high


def test_bad_inputs_are_refused_with_the_fix(flights, tmp_path):
    with pytest.raises(ParameterError, match="temperature"):
        oddsline.train_multiclass(flights, "origin", calibrate="platt")
    with pytest.raises(TargetError, match="not in the table"):
        oddsline.train_multiclass(flights, "airport")
    one_class = flights.filter(np.asarray(flights["origin"]) == "JFK")
    with pytest.raises(TargetError, match="two or more"):
        oddsline.train_multiclass(one_class, "origin")
    spec = oddsline.FeatureSpec.from_dict({"columns": [{"name": "dest", "kind": "target"}]})
    with pytest.raises(SchemaError, match="'categorical' or 'hashing'"):
        oddsline.train_multiclass(flights, "origin", spec=spec)


def test_the_command_line_refuses_a_multiclass_model_by_name(model, tmp_path):
    from oddsline.cli.references import load_model

    path = model.save(tmp_path / "origin.odl")
    with pytest.raises(ParameterError, match="multiclass model"):
        load_model(str(path))
