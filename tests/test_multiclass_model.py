"""Multiclass models: softmax fit equal to scikit-learn's, temperature calibration stored in the
file, evaluation with intervals, and clear refusals where only binary models go."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.metrics import log_loss

import oddsline
from oddsline import ParameterError, SchemaError, SeparationError, TargetError

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


def test_the_command_line_loads_every_kind_and_binary_only_verbs_name_their_limit(model, tmp_path):
    from oddsline.cli.references import load_any_model, load_model

    path = model.save(tmp_path / "origin.odl")
    assert isinstance(load_any_model(str(path)), oddsline.MulticlassModel)
    with pytest.raises(ParameterError, match="multinomial model of 'origin' .3 classes.; oddsline export onnx takes"):
        load_model(str(path), verb="oddsline export onnx")


def test_a_row_scored_alone_or_in_a_batch_gets_the_table_path_probabilities_bit_for_bit(model, flights):
    rows = flights.slice(0, 300).drop(["origin"]).to_pylist()
    table = flights.slice(0, 300)
    np.testing.assert_array_equal(model.predict_rows(rows), model.predict_proba(table))
    np.testing.assert_array_equal(model.predict_rows(rows, raw=True), model.predict_proba(table, raw=True))
    np.testing.assert_array_equal(model.predict_rows(rows[7:8]), model.predict_proba(table.slice(7, 1)))


def test_explanations_add_up_to_each_class_logit(model, flights, tmp_path):
    table = flights.slice(0, 200)
    logits = model.decision_function(table)
    for by in ("column", "design"):
        explained = model.explain(table, by=by)
        assert explained.values.shape[:2] == (200, 3)
        np.testing.assert_allclose(explained.base + explained.values.sum(axis=2), logits, atol=1e-10)
    per_column = model.explain(table)
    assert per_column.names == [c.name for c, _ in model.features.blocks()]
    jfk = per_column.for_class("JFK")
    np.testing.assert_allclose(jfk.base + jfk.values.sum(axis=1), logits[:, 1], atol=1e-10)
    loaded = oddsline.load(model.save(tmp_path / "m.odl"))
    np.testing.assert_array_equal(loaded.explain(table).values, per_column.values)
    with pytest.raises(ParameterError, match="not one of the model's classes"):
        per_column.for_class("SFO")


def test_unpenalised_fit_is_identified_and_its_kept_inference_equals_mnlogit(tmp_path):
    """Home ownership and income verification one-hot with an intercept are collinear: unpenalised, each
    is coded against a reference level (as R and statsmodels' formulas do), and the kept table equals
    MNLogit's on that design for the 7 loan grades."""
    sm = pytest.importorskip("statsmodels.api")
    columns = ["grade", "homeownership", "verified_income", "annual_income", "term", "loan_amount"]
    table = oddsline.read_table(DATA / "lending_club_loans.csv").select(columns)
    fitted = oddsline.train_multiclass(table, "grade", C=math.inf, test_size=0.0)
    assert fitted.info["reference_levels"] == {"homeownership": "MORTGAGE", "verified_income": "Not Verified"}
    model = oddsline.load(fitted.save(tmp_path / "m.odl"))
    kept = model.inference()
    with_rows = model.inference(data=table)
    np.testing.assert_allclose(kept.params, with_rows.params, equal_nan=True)
    np.testing.assert_allclose(kept.bse, with_rows.bse, rtol=1e-10, equal_nan=True)

    X = model.features.transform(table)
    aliased = set(np.asarray(model.statistics["aliased"], dtype=int))
    keep = [j for j in range(X.shape[1]) if j not in aliased]
    exog = sm.add_constant(X[:, keep])
    reference = sm.MNLogit(model.target.encode(table), exog).fit(disp=0, method="newton", tol=1e-12, maxiter=200)
    assert kept.llf == pytest.approx(reference.llf, abs=1e-6)
    np.testing.assert_allclose(model.predict_proba(table), reference.predict(exog), atol=1e-6)
    estimated = ~np.isnan(kept.params)
    assert estimated.sum() == reference.params.size
    np.testing.assert_allclose(kept.params[estimated], reference.params.T.ravel(), rtol=1e-6)
    np.testing.assert_allclose(kept.bse[estimated], reference.bse.T.ravel(), rtol=1e-6)
    assert "G:homeownership=MORTGAGE" in kept.reference_levels
    with pytest.raises(ParameterError, match="unpenalised"):
        oddsline.train_multiclass(table, "grade", C=1.0, test_size=0.0).inference()


def test_an_unpenalised_fit_of_a_separated_class_is_refused_with_the_columns(flights):
    """No flight of the sample leaves Newark for Rochester: unpenalised, EWR's coefficient of that level
    would run to minus infinity; the fit is refused naming the level instead of returning SEs of 1e14."""
    with pytest.raises(SeparationError, match="class 'EWR' of 'origin'.*'dest=ROC'.*finite C"):
        oddsline.train_multiclass(flights.slice(0, 4_000), "origin", C=math.inf, test_size=0.0)


def test_onnx_export_refuses_a_multinomial_model_by_name(model, tmp_path):
    from oddsline.export import export_onnx

    with pytest.raises(ParameterError, match="ONNX export covers binary models.*EWR"):
        export_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
