"""ONNX export: onnxruntime's probabilities equal Model.predict_proba (to float32 precision) on the real
telco data, missing values included; what cannot be exported exactly is refused, named."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import oddsline
from oddsline import FeatureSpec, ParameterError
from oddsline.export import export_onnx

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx)")


def _feeds(model, table):
    feeds = {}
    for column, _ in model.features.blocks():
        values = table.column(column.name)
        if column.kind == "categorical":
            feeds[column.name] = np.array([["" if v is None else str(v)] for v in values.to_pylist()], dtype=object)
        else:
            feeds[column.name] = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, 1)
    return feeds


@pytest.mark.parametrize("calibrate", [None, "platt"])
def test_onnxruntime_matches_predict_proba(telco_table, tmp_path, calibrate):
    spec = FeatureSpec.infer(telco_table, target="churn")
    columns = [c.to_dict() for c in spec.columns]
    for c in columns:  # exercise the other exportable options too
        if c["name"] == "monthly_charges":
            c.update(scale="robust", clip=[0.01, 0.99])
        if c["name"] == "payment_method":
            c.update(min_frequency=1600)  # two of four levels become <rare>
    spec = FeatureSpec.from_dict({"columns": columns})
    model = oddsline.train(telco_table, target="churn", positive="Yes", spec=spec, calibrate=calibrate)
    assert any(c.rare_levels for c in model.features.columns if c.kind == "categorical")
    path = export_onnx(model, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(path))
    got = session.run(["probability"], _feeds(model, telco_table))[0][:, 0]
    expected = model.predict_proba(telco_table)[:, 1]
    assert np.isnan(np.asarray(telco_table.column("total_charges").to_numpy(zero_copy_only=False), dtype=float)).any()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    unseen = _feeds(model, telco_table.slice(0, 1))
    unseen["contract"] = np.array([["Decade"]], dtype=object)
    row = telco_table.slice(0, 1).to_pylist()[0] | {"contract": "Decade"}
    assert session.run(["probability"], unseen)[0][0, 0] == pytest.approx(model.predict_one(row).probability, abs=1e-6)


def test_what_onnx_cannot_express_is_refused_by_name(telco_table, tmp_path):
    spec = FeatureSpec.from_dict(
        {
            "columns": [
                {"name": "tenure", "kind": "numeric", "log1p": True},
                {"name": "payment_method", "kind": "target"},
            ]
        }
    )
    model = oddsline.train(telco_table, target="churn", positive="Yes", spec=spec, calibrate="isotonic")
    with pytest.raises(
        ParameterError, match=r"'tenure': log1p.*'payment_method': kind 'target'.*calibration 'isotonic'"
    ):
        export_onnx(model, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("policy", ["clip", "count"])
def test_values_beyond_the_training_range_score_as_in_python(telco_table, tmp_path, policy):
    """The default clip and the explicit count both export; a constant fill outside the range is not
    clipped, in the graph as in Python."""
    columns = [c.to_dict() for c in FeatureSpec.infer(telco_table, target="churn").columns]
    for c in columns:
        if c["name"] in ("tenure", "monthly_charges"):
            c["out_of_range"] = policy
        if c["name"] == "total_charges":
            c.update(impute="constant", fill_value=-500.0)
    model = oddsline.train(
        telco_table, target="churn", positive="Yes", spec=FeatureSpec.from_dict({"columns": columns})
    )
    session = ort.InferenceSession(str(export_onnx(model, tmp_path / "model.onnx")))
    rows = telco_table.slice(0, 4).to_pylist()
    rows[0]["tenure"], rows[1]["tenure"] = -1e6, 1e6
    rows[2]["monthly_charges"], rows[3]["total_charges"] = 1e4, None
    table = pa.Table.from_pylist(rows, schema=telco_table.schema)
    got = session.run(["probability"], _feeds(model, table))[0][:, 0]
    expected = model.predict_proba(table)[:, 1]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    extrapolated = expected[:3]
    if policy == "clip":  # bounded by the training rows' own scores, not a probability of 0 or 1
        assert ((extrapolated > 1e-4) & (extrapolated < 1 - 1e-4)).all()
    else:
        assert ((extrapolated < 1e-6) | (extrapolated > 1 - 1e-6)).any()
