"""The service's limits and failure accounting: a bug answers 500 and is counted and logged with its
request id; metric labels come from bounded sets (route templates, the models' columns, "other");
scrapes and health probes pass the concurrency limit; deep nesting is a 400; the native route takes
{"instances": [...]}; the default body limit holds the default row limit's worth of rows."""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
from fastapi.testclient import TestClient

from oddsline.serve import Settings, create_app
from oddsline.serve.models import load_served


@pytest.fixture(scope="module")
def model_path(telco_model_file):
    return telco_model_file


@pytest.fixture(scope="module")
def rows(telco_table):
    return telco_table.drop(["churn"]).to_pylist()


def _app(model_path, **settings):
    return create_app([load_served(str(model_path))], Settings(**settings))


def _series(client: TestClient, name: str) -> dict[str, float]:
    """Every sample of a metric: {label text: value}."""
    text = client.get("/metrics").text
    return {m.group(1): float(m.group(2)) for m in re.finditer(rf"^{name}(\{{.*?\}}) (\S+)$", text, re.M)}


def _value(client: TestClient, name: str) -> float:
    """The sample of an unlabelled metric."""
    found = re.search(rf"^{name} (\S+)$", client.get("/metrics").text, re.M)
    assert found, name
    return float(found.group(1))


def test_a_bug_answers_500_counted_and_logged_with_its_request_id(model_path, caplog) -> None:
    app = _app(model_path)

    def broken() -> None:
        raise RuntimeError("a bug in a handler at /srv/secret/path")

    app.app.add_api_route("/boom", broken, methods=["GET"])  # stands for any handler with a bug
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        answer = client.get("/boom")
        assert answer.status_code == 500
        request_id = answer.headers["x-request-id"]
        assert "secret" not in answer.text and "Traceback" not in answer.text
        assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)
        assert _series(client, "oddsline_requests_total")['{model="",route="/boom",status="500"}'] == 1.0


def test_route_labels_are_templates_or_other(model_path, rows) -> None:
    with TestClient(_app(model_path, max_body_bytes=2000)) as client:
        for i in range(3):
            assert client.get(f"/no/such/path/{i}").status_code == 404
        assert client.post("/v1/models/anything-at-all/predict", json={"rows": rows[:20]}).status_code == 413
        assert client.post("/v1/models/churn/predict?explain=true", json=rows[0]).status_code == 200
        series = _series(client, "oddsline_requests_total")
    assert series['{model="",route="other",status="404"}'] == 3.0
    # A model name no served model has is no label value either.
    assert series['{model="",route="/v1/models/{name}/predict",status="413"}'] == 1.0
    assert not any("no/such" in k or "anything-at-all" in k for k in series)


def test_column_labels_come_from_the_models_columns_only(model_path, rows) -> None:
    with TestClient(_app(model_path)) as client:
        for i in range(3):
            extra = {**rows[0], f"client_column_{i}": 1}
            assert client.post("/v1/models/churn/predict", json=extra).status_code == 200
        missing = {k: v for k, v in rows[0].items() if k != "tenure"}
        assert client.post("/v1/models/churn/predict", json=missing).json()["field"] == "tenure"
        oip = {"inputs": [{"name": "attacker_tensor", "shape": [1], "datatype": "FP64", "data": [1.0]}]}
        assert client.post("/v2/models/churn/infer", json=oip).status_code in (400, 422)
        events = _series(client, "oddsline_input_events_total")
        failures = _series(client, "oddsline_validation_failures_total")
    assert not any("client_column" in k for k in events)
    assert events['{column="other",event="unexpected_column",model="churn"}'] == 3.0
    assert failures['{field="tenure"}'] == 1.0
    assert not any("attacker" in k for k in failures)


def test_scrapes_and_probes_pass_the_concurrency_limit_and_are_not_in_flight(model_path, rows) -> None:
    with TestClient(_app(model_path, max_in_flight=0)) as client:  # every scoring request over the limit
        refused = client.post("/v1/models/churn/predict", json=rows[0])
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        for path in ("/metrics", "/v2/health/live", "/v2/health/ready", "/ping", "/health"):
            assert client.get(path).status_code == 200, path
        assert "oddsline_requests_in_flight 0.0" in client.get("/metrics").text


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"rows": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"],
)
def test_deep_nesting_is_a_400_on_every_protocol(model_path, body: bytes) -> None:
    with TestClient(_app(model_path)) as client:
        for path in ("/v1/models/churn/predict", "/v1/models/churn/predict?explain=true", "/invocations"):
            answer = client.post(path, content=body, headers={"content-type": "application/json"})
            assert answer.status_code == 400, (path, answer.text)
            assert "too deeply" in answer.json()["error"]
        answer = client.post("/v2/models/churn/infer", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 400


def test_the_native_route_takes_instances_as_rows(model_path, rows) -> None:
    with TestClient(_app(model_path)) as client:
        by_rows = client.post("/v1/models/churn/predict", json={"rows": rows[:5]}).json()["predictions"]
        by_instances = client.post("/v1/models/churn/predict", json={"instances": rows[:5]}).json()["predictions"]
    assert [p["probability"] for p in by_instances] == [p["probability"] for p in by_rows]


def test_the_default_body_limit_takes_thousands_of_rows(model_path, rows) -> None:
    with TestClient(_app(model_path)) as client:
        answer = client.post("/v1/models/churn/predict", json=rows[:5000])  # 2.2 MB of telco rows
        assert answer.status_code == 200 and len(answer.json()["predictions"]) == 5000


@pytest.mark.parametrize(
    "option",
    [
        "--max-in-flight",
        "--max-rows",
        "--max-body-bytes",
        "--header-timeout",
        "--body-timeout",
        "--keep-alive",
        "--request-timeout",
    ],
)
def test_serve_refuses_a_limit_below_one_or_a_timeout_of_zero(model_path, option: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oddsline", "serve", str(model_path), option, "0"], capture_output=True, text=True
    )
    assert done.returncode == 2 and option in done.stderr


@pytest.mark.parametrize("value", ["-0.1", "1.5"])
def test_serve_refuses_a_shed_delay_outside_0_to_1(model_path, value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oddsline", "serve", str(model_path), "--shed-delay", value],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--shed-delay must be between 0 and 1" in done.stderr


def test_the_series_alerts_read_exist_from_the_start(model_path, rows) -> None:
    """increase() drops a new series' first sample: the first 504 or rejected reload would be lost."""
    import time

    before = time.time()
    with TestClient(_app(model_path)) as client:
        requests = _series(client, "oddsline_requests_total")
        for status in ("500", "503", "504"):
            assert requests[f'{{model="churn",route="/v1/models/{{name}}/predict",status="{status}"}}'] == 0.0
        assert _series(client, "oddsline_model_loads_total")['{model="churn",outcome="rejected"}'] == 0.0
        assert _series(client, "oddsline_labels_total")['{model="",outcome="unknown"}'] == 0.0
        assert _series(client, "oddsline_labels_total")['{model="churn",outcome="matched"}'] == 0.0
        # The served model's own series: its decisions, its labelled predictions (calibration and log
        # loss read their increase), the unseen and out-of-range inputs of each column (InputAnomalies).
        version = client.get("/v1/models").json()[0]["version"]
        own = f'model="churn",version="{version}"'
        for name in ("labelled", "labelled_positive", "labelled_probability", "labelled_log_loss"):
            assert _series(client, f"oddsline_{name}_total") == {f"{{{own}}}": 0.0}, name
        decisions = _series(client, "oddsline_predictions_total")
        assert decisions == {f'{{decision="{d}",{own}}}': 0.0 for d in ("negative", "positive")}
        events = _series(client, "oddsline_input_events_total")
        assert events['{column="contract",event="unseen",model="churn"}'] == 0.0
        assert events['{column="tenure",event="out_of_range",model="churn"}'] == 0.0
        assert len(events) == 2 * len(rows[0]), sorted(events)[:4]
        # The label clock starts at the start (label lag is not 56 years), and labels that match no
        # prediction do not move it.
        started = _series(client, "oddsline_last_label_timestamp_seconds")['{model="churn"}']
        assert before <= started <= time.time()
        time.sleep(0.05)
        answer = client.post("/v1/labels", json={"labels": [{"id": "no-such-prediction", "label": "Yes"}]})
        assert answer.status_code == 200 and answer.json()["unknown"] == 1
        assert _series(client, "oddsline_last_label_timestamp_seconds")['{model="churn"}'] == started
        scored = client.post("/v1/models/churn/predict", json=rows[0]).json()
        labels = {"labels": [{"id": scored["request_id"], "label": "Yes"}]}
        assert client.post("/v1/labels", json=labels).json()["matched"] == 1
        assert _series(client, "oddsline_last_label_timestamp_seconds")['{model="churn"}'] > started


def test_the_latency_histogram_reaches_past_the_request_timeout() -> None:
    from oddsline.monitor.observe import LATENCY_BUCKETS

    assert max(LATENCY_BUCKETS) >= Settings().request_timeout


def test_model_info_names_the_served_version_and_file(model_path, telco_model) -> None:
    with TestClient(_app(model_path)) as client:
        info = _series(client, "oddsline_model_info")
    (labels,) = info
    assert info[labels] == 1.0
    sha = telco_model.info.get("file_sha256") or load_served(str(model_path)).sha256
    assert 'model="churn"' in labels and f'sha256="{sha}"' in labels and f'version="{sha[:12]}"' in labels


def test_scrapes_and_probes_answer_past_the_request_timeout(model_path) -> None:
    """A request timeout shorter than a scrape takes must not blind Prometheus or fail liveness (a
    failed probe gets the pod restarted); found by the live-Prometheus suite (tests/observability)."""
    with TestClient(_app(model_path, request_timeout=1e-6)) as client:
        for _ in range(20):
            assert client.get("/metrics").status_code == 200
            assert client.get("/v2/health/live").status_code == 200
            assert client.get("/v2/health/ready").status_code == 200
