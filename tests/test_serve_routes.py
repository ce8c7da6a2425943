"""Each protocol's routes mounted alone over a Service (no gate, no other protocol), the scoring steps
without any app, and the settings' one trip from the command line to the workers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
from fastapi import FastAPI
from fastapi.testclient import TestClient

from oddsline.serve.app import answer_errors, mount
from oddsline.serve.models import load_served
from oddsline.serve.routes import admin, labels, mlflow, native, oip
from oddsline.serve.scoring import score_and_record, score_rows
from oddsline.serve.service import Service
from oddsline.serve.settings import ConnectionLimits, Settings


@pytest.fixture(scope="module")
def served(telco_model_file):
    return load_served(str(telco_model_file))


@pytest.fixture(scope="module")
def rows(telco_table):
    return telco_table.slice(0, 12).drop(["churn"]).to_pylist()


def alone(router, service):
    """A bare FastAPI app with only ``router``'s routes over ``service`` (and the error answers)."""
    app = FastAPI()
    app.state.service = service
    mount(app, router)
    answer_errors(app)
    return TestClient(app)


def test_native_routes_alone_score_as_the_model(served, rows, telco_model, telco_table):
    client = alone(native.router, Service([served]))
    expected = telco_model.predict_proba(telco_table.slice(0, 12))[:, 1]
    answer = client.post("/v1/models/churn/predict", json=rows).json()
    assert [p["probability"] for p in answer["predictions"]] == list(expected)
    assert len(answer["request_id"]) == 24  # drawn by the route itself: no gate in front
    assert client.get("/v1/models").json()[0]["name"] == "churn"
    assert client.post("/v2/models/churn/infer", json={}).status_code == 404  # OIP is not mounted


def test_oip_routes_alone(served, rows, telco_model, telco_table):
    client = alone(oip.router, Service([served]))
    inputs = [
        {
            "name": c,
            "datatype": "BYTES" if isinstance(rows[0][c], str) else "FP64",
            "shape": [2],
            "data": [r[c] for r in rows[:2]],
        }
        for c in rows[0]
    ]
    answer = client.post("/v2/models/churn/infer", json={"inputs": inputs}).json()
    expected = telco_model.predict_proba(telco_table.slice(0, 2))[:, 1]
    np.testing.assert_allclose(answer["outputs"][0]["data"], expected, rtol=1e-12)
    assert client.get(f"/v2/models/churn/versions/{served.version}/ready").json() == {"name": "churn", "ready": True}
    assert client.get("/v2/models/churn/versions/nope").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        '{"inputs": "x"}',
        '{"inputs": ["x"]}',
        '{"inputs": [1]}',
        '{"inputs": {"tenure": 1}}',
        '{"inputs": [{"name": "tenure", "parameters": "x"}]}',
        '{"inputs": [{"name": "tenure", "parameters": {"binary_data_size": "8"}}]}',
        "[]",
    ],
)
def test_an_oip_body_of_the_wrong_shape_is_a_400_naming_inputs(served, body):
    """Not a list of tensor objects: answered 400 by the checks, not a 500 from the binary-data step."""
    client = alone(oip.router, Service([served]))
    answer = client.post("/v2/models/churn/infer", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and answer.json()["field"] in ("inputs", "tenure"), answer.text


def test_mlflow_routes_alone(served, rows, telco_model, telco_table):
    client = alone(mlflow.router, Service([served]))
    answer = client.post("/invocations", json={"dataframe_records": rows[:3]}).json()
    np.testing.assert_allclose(
        answer["predictions"], telco_model.predict_proba(telco_table.slice(0, 3))[:, 1], rtol=1e-12
    )
    assert client.get("/ping").status_code == 200


def test_labels_route_alone_joins_what_the_scoring_steps_remembered(served, rows):
    service = Service([served])
    scope = {"path": "/v1/models/churn/predict", "state": {"request_id": "r1", "started": 0.0}}
    scores = score_and_record(service, served, rows[:2], scope)
    client = alone(labels.router, service)
    positive, negative = served.model.classes[1], served.model.classes[0]
    answer = client.post(
        "/v1/labels",
        json=[{"id": "r1:0", "label": positive}, {"id": "r1:1", "label": negative}, {"id": "x", "label": positive}],
    ).json()
    assert answer == {
        "received": 3,
        "matched": 2,
        "unknown": 1,
        "invalid": 0,
        "repeated": 0,
        "pending": 0,
        "stored": False,
    }
    q = np.clip(scores.probability, 1e-15, 1 - 1e-15)
    logged = service.metrics.child(service.metrics.labelled_log_loss, "churn", served.version)._value.get()
    assert logged == pytest.approx(-np.log(q[0]) - np.log1p(-q[1]), rel=1e-12)


def test_admin_routes_alone(served):
    closed = alone(admin.router, Service([served]))
    assert closed.post("/admin/reload").status_code == 404  # no token: the admin routes are off
    assert b"oddsline_requests_total" in closed.get("/metrics").content
    opened = alone(admin.router, Service([served], Settings(admin_token="s3cret")))
    assert opened.post("/admin/reload").status_code == 401
    reloaded = opened.post("/admin/reload", headers={"authorization": "Bearer s3cret"}).json()
    assert reloaded["churn"]["reloaded"] is True and reloaded["churn"]["version"] == served.version


def test_score_rows_counts_what_it_scored_without_an_app(served, rows, telco_model, telco_table):
    service = Service([served])
    scores = score_rows(service.metrics, served, rows)
    expected = telco_model.predict_proba(telco_table.slice(0, 12))[:, 1]
    assert scores.probability == list(expected)
    counted = sum(
        service.metrics.child(service.metrics.predictions, "churn", served.version, d)._value.get()
        for d in ("positive", "negative")
    )
    assert counted == len(rows)
    assert service.log is None and service.recent.find("anything") is None  # nothing remembered, nothing logged


def test_settings_travel_whole_to_the_workers_but_the_admin_token():
    chosen = Settings(
        **{
            f.name: value
            for f, value in zip(
                dataclasses.fields(Settings),
                [
                    123,
                    45,
                    6,
                    "log",
                    ("ssn",),
                    "s3cret",
                    1.5,
                    20.0,
                    "customer",
                    True,
                    7.0,
                    "labels",
                    9.0,
                    99,
                    11,
                    321,
                    2.5,
                    ("k",),
                    ConnectionLimits(1.0, 2.0, 100, 10, 200, 3000, 0.5),  # the HTTP layer's, to the protocol
                ],
                strict=True,
            )
        }
    )
    text = chosen.to_json()
    assert "s3cret" not in text
    assert Settings.from_json(text, admin_token="s3cret") == chosen
    assert Settings.from_json(text).admin_token is None
