"""The JSON types the service takes for a model's columns, on all three protocols: one value per
column; true/false refused where the model reads a number (a numeric column never held them in
training); arrays and objects refused everywhere. And the paths that build a table from the rows
(explanations, the drift measurement) take every row the scorers take, mixed types included."""

from __future__ import annotations

import math
import time

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
from fastapi.testclient import TestClient

from oddsline.serve import Settings, create_app
from oddsline.serve.models import load_served


@pytest.fixture(scope="module")
def rows(telco_table):
    return telco_table.drop(["churn"]).slice(0, 40).to_pylist()


@pytest.fixture
def client(telco_model_file):
    with TestClient(create_app([load_served(str(telco_model_file))], Settings(prediction_log=None))) as c:
        yield c


def _with(rows, i, column, value):
    changed = [dict(r) for r in rows]
    changed[i][column] = value
    return changed


def _oip(rows):
    inputs = []
    for name in rows[0]:
        values = [r[name] for r in rows]
        kinds = {type(v) for v in values if v is not None}
        datatype = "BOOL" if kinds == {bool} else "BYTES" if kinds == {str} else "FP64"
        inputs.append({"name": name, "shape": [len(rows)], "datatype": datatype, "data": values})
    return {"inputs": inputs}


def _answers(client, rows):
    """Status and body of the same rows on the native, MLflow (records and split) and OIP routes."""
    bodies = [
        ("/v1/models/churn/predict", rows if len(rows) > 1 else rows[0]),
        ("/invocations", {"dataframe_records": rows}),
        ("/invocations", {"dataframe_split": {"columns": list(rows[0]), "data": [list(r.values()) for r in rows]}}),
        ("/v2/models/churn/infer", _oip(rows)),
    ]
    return [(path, client.post(path, json=body)) for path, body in bodies]


@pytest.mark.parametrize("count", [1, 40])
@pytest.mark.parametrize("column", ["tenure", "monthly_charges"])
def test_true_or_false_for_a_numeric_column_is_refused_naming_it(client, rows, column, count) -> None:
    sent = _with(rows[:count], count - 1, column, True)
    for path, answer in _answers(client, sent):
        assert answer.status_code == 422, (path, answer.text)
        body = answer.json()
        assert body["field"] == column and "is numeric but holds true" in body["error"], (path, body)
        if count > 1:
            assert f"in row {count - 1}" in body["error"]


def test_true_or_false_for_a_boolean_column_is_its_value(client, rows) -> None:
    """female was 0/1 in training, so it is a boolean column: true scores as 1, on every route."""
    as_numbers = [dict(r, female=1) for r in rows[:5]]
    as_booleans = [dict(r, female=True) for r in rows[:5]]
    expected = client.post("/v1/models/churn/predict", json=as_numbers).json()["predictions"]
    answered = client.post("/v1/models/churn/predict", json=as_booleans).json()["predictions"]
    assert [p["probability"] for p in answered] == [p["probability"] for p in expected]


@pytest.mark.parametrize("value", [[], [1], {}, {"a": 1}])
@pytest.mark.parametrize("column", ["tenure", "contract", "female"])
def test_an_array_or_an_object_is_no_value_of_any_column(client, rows, column, value) -> None:
    sent = _with(rows[:3], 2, column, value)
    for path, answer in _answers(client, sent)[:3]:  # OIP tensors are flat by shape: refused as 400 there
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["field"] == column and "send one value" in answer.json()["error"]
    for explain in ("true", "false"):
        answer = client.post(f"/v1/models/churn/predict?explain={explain}", json=sent)
        assert answer.status_code == 422 and answer.json()["field"] == column


def test_explanations_take_a_column_of_mixed_types_as_scoring_does(client, rows) -> None:
    """contract 7 beside text, tenure "5" beside numbers, a categorical true: the scorers read them as
    "7", 5.0 and "true"; the explanation used to fail building its table (500)."""
    mixed = _with(_with(_with(rows[:4], 0, "contract", 7), 1, "tenure", "5"), 2, "payment_method", True)
    plain = _with(_with(_with(rows[:4], 0, "contract", "7"), 1, "tenure", 5), 2, "payment_method", "true")
    url = "/v1/models/churn/predict?explain=true"
    got, want = client.post(url, json=mixed), client.post(url, json=plain)
    assert got.status_code == 200, got.text
    assert got.json()["predictions"] == want.json()["predictions"]
    for p in got.json()["predictions"]:  # top contributions and base stay within the log-odds' reach
        assert all(math.isfinite(v) for v in p["contributions"].values())


def test_drift_is_measured_while_the_recent_rows_mix_types(telco_model_file, rows) -> None:
    """A categorical true among text made the drift table fail, silently, each time it was measured."""
    settings = Settings(prediction_log=None, drift_seconds=0.1, drift_min_rows=20)
    with TestClient(create_app([load_served(str(telco_model_file))], settings)) as client:
        sent = _with(_with(rows, 0, "contract", True), 1, "tenure", "5")
        assert client.post("/v1/models/churn/predict", json=sent).status_code == 200
        deadline = time.time() + 20
        while 'oddsline_score_psi{model="churn"}' not in client.get("/metrics").text and time.time() < deadline:
            time.sleep(0.1)
        text = client.get("/metrics").text
    assert 'oddsline_score_psi{model="churn"}' in text
    assert 'oddsline_drift_psi{column="contract",model="churn"}' in text
