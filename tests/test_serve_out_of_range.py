"""A number outside its column's training range is visible in the answer, on the row that held it:
``"out_of_range": {"tenure": "clipped"}`` under the default policy (clip: scored at the nearest
training bound, counted in metrics), ``"extrapolated"`` under ``out_of_range: count``, and a 422 naming
the column under ``error``. The probability is the Python API's for the same row in every case."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
from fastapi.testclient import TestClient

import oddsline
from oddsline.serve import Settings, create_app
from oddsline.serve.models import load_served

PREDICT = "/v1/models/churn/predict"


def _model_with(telco_table, policy: str | None):
    spec = oddsline.FeatureSpec.infer(telco_table, target="churn").to_dict()
    if policy is not None:
        for column in spec["columns"]:
            if column["name"] == "tenure":
                column["out_of_range"] = policy
    return oddsline.train(telco_table, target="churn", positive="Yes", spec=oddsline.FeatureSpec.from_dict(spec))


def _client(model, tmp_path):
    path = model.save(tmp_path / "churn.odl")
    return TestClient(create_app([load_served(str(path))], Settings()))


@pytest.fixture(scope="module")
def rows(telco_table):
    return telco_table.drop(["churn"]).slice(0, 3000).to_pylist()


@pytest.mark.parametrize(("policy", "action"), [(None, "clipped"), ("count", "extrapolated")])
def test_the_row_with_an_out_of_range_number_says_so_and_scores_as_in_python(
    telco_table, rows, tmp_path, policy, action
):
    model = _model_with(telco_table, policy)
    odd = {**rows[0], "tenure": -1e9}
    expected = float(model.predict_proba([odd])[0, 1])
    with _client(model, tmp_path) as client:
        one = client.post(PREDICT, json=odd).json()["predictions"][0]
        assert one["out_of_range"] == {"tenure": action}
        assert one["probability"] == pytest.approx(expected, abs=1e-12)
        batch = [*rows[:1234], odd, *rows[1235:]]
        answered = client.post(PREDICT, content=json.dumps(batch)).json()["predictions"]
        assert [i for i, p in enumerate(answered) if "out_of_range" in p] == [1234]
        assert answered[1234]["out_of_range"] == {"tenure": action}
        explained = client.post(PREDICT + "?explain=true", json=[rows[1], odd]).json()["predictions"]
        assert "out_of_range" not in explained[0] and explained[1]["out_of_range"] == {"tenure": action}
        assert "contributions" in explained[1]
        metrics = client.get("/metrics").text
    assert 'oddsline_input_events_total{column="tenure",event="out_of_range",model="churn"} 3.0' in metrics
    if policy is None:
        low = next(c for c, _ in model.features.blocks() if c.name == "tenure").low
        clipped = {**rows[0], "tenure": low}
        assert one["probability"] == pytest.approx(float(model.predict_proba([clipped])[0, 1]), abs=1e-12)
    else:
        assert one["probability"] == 0.0 or one["probability"] < 1e-6 or one["probability"] > 1 - 1e-6


def test_rows_in_range_carry_no_flag(telco_table, rows, tmp_path, telco_model):
    with _client(telco_model, tmp_path) as client:
        answered = client.post(PREDICT, content=json.dumps(rows)).json()["predictions"]
    assert not any("out_of_range" in p for p in answered)


def test_the_error_policy_refuses_the_request_naming_the_column(telco_table, rows, tmp_path):
    model = _model_with(telco_table, "error")
    with _client(model, tmp_path) as client:
        answer = client.post(PREDICT, json={**rows[0], "tenure": -1e9})
    assert answer.status_code == 422
    assert "tenure" in answer.json()["error"] and "training range" in answer.json()["error"]


def _oip_inputs(rows):
    return [
        {
            "name": c,
            "datatype": "BYTES" if isinstance(rows[0][c], str) else "FP64",
            "shape": [len(rows)],
            "data": [r[c] for r in rows],
        }
        for c in rows[0]
    ]


def test_the_mlflow_and_oip_answers_name_the_out_of_range_rows_too(rows, tmp_path, telco_model):
    odd = {**rows[0], "tenure": -1e9}
    with _client(telco_model, tmp_path) as client:
        mlflow = client.post("/invocations", json={"dataframe_records": [rows[1], odd]}).json()
        assert mlflow["out_of_range"] == [{"row": 1, "columns": {"tenure": "clipped"}}]
        assert len(mlflow["predictions"]) == 2
        in_range = client.post("/invocations", json={"dataframe_records": rows[1:3]}).json()
        assert set(in_range) == {"predictions"}
        oip = client.post("/v2/models/churn/infer", json={"inputs": _oip_inputs([rows[1], odd])}).json()
        flags = {output["name"]: output for output in oip["outputs"]}["out_of_range"]
        assert flags["datatype"] == "BYTES" and flags["shape"] == [2, 1]
        assert [json.loads(text) for text in flags["data"]] == [{}, {"tenure": "clipped"}]
        clean = client.post("/v2/models/churn/infer", json={"inputs": _oip_inputs(rows[1:3])}).json()
        assert [output["name"] for output in clean["outputs"]] == ["probability", "label"]
