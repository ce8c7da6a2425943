"""A multinomial model served on every protocol: the answers equal the Python API's probabilities bit for
bit, and what rests on a positive class (the prediction log, /v1/labels, canary pairs, a kind change on
reload) is kept apart or refused by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
from fastapi.testclient import TestClient

import oddsline
from oddsline import ParameterError
from oddsline.serve import Settings, create_app
from oddsline.serve.models import load_served

DATA = Path(__file__).parent.parent / "examples" / "data"
FEATURES = ["carrier", "dest", "distance", "hour", "month", "origin"]
AIRPORTS = ["EWR", "JFK", "LGA"]


@pytest.fixture(scope="module")
def flights():
    return pq.read_table(DATA / "nyc_flights_2013_sample.parquet", columns=FEATURES).slice(0, 6_000)


@pytest.fixture(scope="module")
def origin(flights):
    """The departure airport of a flight, temperature-calibrated: 3 classes."""
    return oddsline.train_multiclass(flights, "origin", calibrate="temperature", seed=3)


@pytest.fixture(scope="module")
def origin_path(origin, tmp_path_factory):
    return origin.save(tmp_path_factory.mktemp("serve") / "origin.odl")


@pytest.fixture(scope="module")
def client(origin_path):
    return TestClient(create_app([load_served(str(origin_path))], Settings(max_rows=100)))


@pytest.fixture(scope="module")
def rows(flights):
    return flights.slice(0, 40).drop(["origin"]).to_pylist()


def test_native_predict_gives_every_class_probability_bit_for_bit(client, origin, flights, rows):
    expected = origin.predict_proba(flights.slice(0, 40))
    labels = list(origin.predict(flights.slice(0, 40)))
    one = client.post("/v1/models/origin/predict", json=rows[0]).json()["predictions"][0]
    assert one["probabilities"] == dict(zip(AIRPORTS, expected[0].tolist(), strict=True))
    assert one["label"] == labels[0] and one["probability"] == expected[0].max() and "decision" not in one
    raw = origin.predict_proba(flights.slice(0, 1), raw=True)[0]
    assert one["raw_probability"] == raw[AIRPORTS.index(one["label"])]
    for body in (rows, {"rows": rows}):  # a plain list is decoded into columns; {"rows": ...} parsed as usual
        many = client.post("/v1/models/origin/predict", json=body).json()["predictions"]
        np.testing.assert_array_equal([[p["probabilities"][a] for a in AIRPORTS] for p in many], expected)
        assert [p["label"] for p in many] == labels
    described = client.get("/v1/models/origin").json()
    assert described["kind"] == "multinomial_logistic_regression" and described["classes"] == AIRPORTS
    assert described["calibration"] == "temperature" and described["temperature"] == origin.temperature
    counted = [line for line in client.get("/metrics").text.splitlines() if line.startswith("oddsline_predictions")]
    assert any('decision="JFK"' in line for line in counted)


def test_explain_adds_up_to_the_predicted_class_logit(client, origin, flights, rows):
    answer = client.post("/v1/models/origin/predict?explain=true", json=rows[:5]).json()["predictions"]
    logits = origin.decision_function(flights.slice(0, 5))
    for i, p in enumerate(answer):
        k = AIRPORTS.index(p["explained_class"])
        assert p["explained_class"] == p["label"]
        assert len(p["contributions"]) <= 5  # every source column here: their sum is the whole logit
        assert p["base"] + sum(p["contributions"].values()) == pytest.approx(logits[i, k], abs=1e-10)


def test_open_inference_protocol_returns_a_probability_tensor_per_class(client, origin, flights, rows):
    metadata = client.get("/v2/models/origin").json()
    assert metadata["outputs"][0] == {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]}
    inputs = [
        {
            "name": name,
            "datatype": "BYTES" if isinstance(rows[0][name], str) else "FP64",
            "shape": [4, 1],
            "data": [r[name] for r in rows[:4]],
        }
        for name in rows[0]
    ]
    outputs = {o["name"]: o for o in client.post("/v2/models/origin/infer", json={"inputs": inputs}).json()["outputs"]}
    probabilities = outputs["probabilities"]
    assert probabilities["shape"] == [4, 3] and probabilities["parameters"]["classes"] == "EWR,JFK,LGA"
    np.testing.assert_array_equal(np.reshape(probabilities["data"], (4, 3)), origin.predict_proba(flights.slice(0, 4)))
    assert outputs["label"]["data"] == list(origin.predict(flights.slice(0, 4)))


def test_mlflow_invocations_return_one_record_of_class_probabilities_per_row(client, origin, flights, rows):
    predictions = client.post("/invocations", json={"dataframe_records": rows[:3]}).json()["predictions"]
    expected = origin.predict_proba(flights.slice(0, 3))
    assert predictions == [dict(zip(AIRPORTS, row, strict=True)) for row in expected.tolist()]


def test_only_binary_predictions_reach_the_log_and_the_labels(origin_path, telco_model, telco_table, rows, tmp_path):
    from oddsline.monitor.prediction_files import read_predictions

    churn = telco_model.save(tmp_path / "churn.odl")
    folder = tmp_path / "log"
    served = [load_served(str(origin_path)), load_served(str(churn))]
    churn_rows = telco_table.slice(0, 3).drop(["churn"]).to_pylist()
    with TestClient(create_app(served, Settings(prediction_log=str(folder)))) as client:
        flight = client.post("/v1/models/origin/predict", json=rows[:4])
        assert flight.status_code == 200
        assert client.post("/v1/models/churn/predict", json=churn_rows).status_code == 200
        labels = client.post("/v1/labels", json=[{"id": flight.json()["request_id"] + ":0", "label": "JFK"}])
        # Not remembered, never logged: it waits for the log (pending), then counts unknown.
        assert labels.json()["pending"] == 1 and labels.json()["matched"] == 0
    logged = read_predictions(folder)
    assert logged.num_rows == 3 and set(logged.column("model").to_pylist()) == {"churn"}


def test_a_canary_pair_and_a_kind_change_on_reload_are_refused(origin_path, telco_model, tmp_path):
    with pytest.raises(ParameterError, match="challenger pairs binary models"):
        create_app([load_served(str(origin_path))], Settings(), {"origin": load_served(str(origin_path))})
    live = tmp_path / "live.odl"
    live.write_bytes(origin_path.read_bytes())
    with TestClient(create_app([load_served(str(live))], Settings(admin_token="t"))) as client:
        telco_model.save(live)
        outcome = client.post("/admin/reload", headers={"authorization": "Bearer t"}).json()["live"]
        assert not outcome["reloaded"] and "keeps the served kind" in outcome["error"]
        assert client.get("/v1/models/live").json()["kind"] == "multinomial_logistic_regression"


def test_the_serve_command_refuses_a_multinomial_challenger_in_one_line(origin_path, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ODDSLINE_DEBUG"}
    result = subprocess.run(
        [sys.executable, "-m", "oddsline", "serve", str(origin_path), "--challenger", str(origin_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "oddsline serve: error: --challenger pairs binary models (canary and shadow compare positive-class "
        "scores); serve a multinomial model without --challenger"
    ]
    assert result.stdout == ""
