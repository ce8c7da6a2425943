"""The scoring service: every protocol, limits, the error table; a real uvicorn server on loopback for
the Open Inference Protocol client (tritonclient) round trip."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
from fastapi.testclient import TestClient

from oddsline import DataError, ParameterError, RegistryError, SchemaError
from oddsline.scoring_json import COMPILED
from oddsline.serve import Settings, create_app
from oddsline.serve.errors import ServiceError, error_body, status_of
from oddsline.serve.models import load_served


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, telco_model):
    return telco_model.save(tmp_path_factory.mktemp("serve") / "churn.odl")


@pytest.fixture(scope="module")
def client(model_path):
    return TestClient(create_app([load_served(str(model_path))], Settings(max_rows=50)))


@pytest.fixture(scope="module")
def small(model_path):
    return TestClient(create_app([load_served(str(model_path))], Settings(max_body_bytes=4096, max_rows=50)))


@pytest.fixture(scope="module")
def rows(telco_table):
    return telco_table.slice(0, 20).drop(["churn"]).to_pylist()


def test_native_predict_matches_the_model(client, rows, telco_model, telco_table):
    one = client.post("/v1/models/churn/predict", json=rows[0])
    assert one.status_code == 200 and one.headers["x-request-id"]
    body = one.json()
    assert body["model"] == "churn" and body["request_id"] == one.headers["x-request-id"]
    expected = telco_model.predict_proba(telco_table.slice(0, 20))[:, 1]
    assert body["predictions"][0]["probability"] == expected[0]
    many = client.post("/v1/models/churn/predict?explain=true", json={"rows": rows[:10]}).json()["predictions"]
    assert [p["probability"] for p in many] == list(expected[:10])
    assert all(len(p["contributions"]) == 5 for p in many)
    listed = client.get("/v1/models").json()
    assert listed[0]["name"] == "churn" and "version" in listed[0]
    schema = client.get("/v1/models/churn").json()["schema"]
    assert {c["name"] for c in schema} == set(telco_model.features.source_columns)


def test_a_list_of_rows_is_answered_as_each_row_alone(model_path, telco_model, telco_table):
    """A JSON list of exactly the model's columns: where the C extension is built, the compiled scorer
    answers it from the body; each row's probability is still predict_one's, and the nulls it imputed
    reach the metrics."""
    rows = telco_table.slice(470, 50).drop(["churn"]).to_pylist()
    nulls = sum(row["total_charges"] is None for row in rows)
    assert nulls  # the telco rows hold blank total charges: imputed on both paths
    with TestClient(create_app([load_served(str(model_path))], Settings())) as fresh:
        answer = fresh.post("/v1/models/churn/predict", json=rows).json()["predictions"]
        metrics = fresh.get("/metrics").text
    alone = [telco_model.predict_one(row) for row in rows]
    assert [p["raw_probability"] for p in answer] == [a.raw_probability for a in alone]
    assert [p["probability"] for p in answer] == [a.probability for a in alone]
    assert f'oddsline_input_events_total{{column="total_charges",event="imputed",model="churn"}} {nulls:.1f}' in metrics
    served = load_served(str(model_path))
    assert served.rows_decoder.decode(json.dumps(rows).encode()).compiled == COMPILED  # the path taken


@pytest.mark.parametrize(
    "payload",
    ["dataframe_split", "dataframe_records", "instances", "inputs", "csv"],
)
def test_every_mlflow_payload_format(client, rows, telco_model, telco_table, payload):
    columns = list(rows[0])
    if payload == "dataframe_split":
        response = client.post(
            "/invocations",
            json={"dataframe_split": {"columns": columns, "data": [[r[c] for c in columns] for r in rows[:5]]}},
        )
    elif payload == "dataframe_records":
        response = client.post("/invocations", json={"dataframe_records": rows[:5]})
    elif payload == "instances":
        response = client.post("/invocations", json={"instances": rows[:5]})
    elif payload == "inputs":
        response = client.post("/invocations", json={"inputs": {c: [r[c] for r in rows[:5]] for c in columns}})
    else:
        lines = [",".join(columns)] + [",".join("" if r[c] is None else str(r[c]) for c in columns) for r in rows[:5]]
        response = client.post("/invocations", content="\n".join(lines).encode(), headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    expected = telco_model.predict_proba(telco_table.slice(0, 5))[:, 1]
    np.testing.assert_allclose(response.json()["predictions"], expected, rtol=1e-12)
    assert client.get("/ping").status_code == 200 and client.get("/version").text


def test_a_csv_body_reads_missing_values_as_a_training_csv_does(client, rows, telco_model, telco_table):
    """NaN, NA, NULL in a CSV body were a 422 ("not an allowed number"), while "NaN" in a JSON string
    was a missing value and the training CSV read them as missing."""
    columns = list(rows[0])
    spelled = [{**r, "total_charges": spelling} for r, spelling in zip(rows[:3], ["NaN", "NA", "NULL"], strict=True)]
    lines = [",".join(columns)] + [",".join("" if r[c] is None else str(r[c]) for c in columns) for r in spelled]
    answer = client.post("/invocations", content="\n".join(lines).encode(), headers={"content-type": "text/csv"})
    assert answer.status_code == 200, answer.text
    missing = telco_table.slice(0, 3).set_column(
        telco_table.column_names.index("total_charges"), "total_charges", pa.nulls(3, pa.float64())
    )
    np.testing.assert_allclose(answer.json()["predictions"], telco_model.predict_proba(missing)[:, 1], rtol=1e-12)
    infinite = [",".join(columns), ",".join("inf" if c == "total_charges" else str(rows[0][c]) for c in columns)]
    refused = client.post("/invocations", content="\n".join(infinite).encode(), headers={"content-type": "text/csv"})
    assert refused.status_code == 422


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda head, line: head.replace("partner,", "\npartner,") + "\n" + line, "CSV line 2 has"),
        (lambda head, line: head + "\n" + line + ",extra", "CSV line 2 has 20 fields where the header has 19"),
        (lambda head, line: head + "\n" + line.rsplit(",", 1)[0], "CSV line 2 has 18 fields"),
        (lambda head, line: head + ",female\n" + line + ",1", "names 'female' twice"),
    ],
)
def test_a_csv_line_that_does_not_match_its_header_is_a_400(client, rows, broken, message):
    """Found by the raw-socket fuzzer (tests/reliability): a header broken by a line break filed the
    extra fields under the key None, and the request answered 500."""
    head = ",".join(rows[0])
    line = ",".join("" if v is None else str(v) for v in rows[0].values())
    answer = client.post("/invocations", content=broken(head, line).encode(), headers={"content-type": "text/csv"})
    assert answer.status_code == 400 and message in answer.json()["error"], answer.text


def test_limits_and_strict_json(small, rows):
    client = small
    at_limit = json.dumps(rows[0]).encode()
    at_limit += b" " * (4096 - len(at_limit))
    assert len(at_limit) == 4096
    assert (
        client.post(
            "/v1/models/churn/predict", content=at_limit, headers={"content-type": "application/json"}
        ).status_code
        == 200
    )
    under = client.post("/v1/models/churn/predict", content=at_limit[:-1], headers={"content-type": "application/json"})
    assert under.status_code == 200
    over = client.post(
        "/v1/models/churn/predict", content=at_limit + b" ", headers={"content-type": "application/json"}
    )
    assert over.status_code == 413 and "limit" in over.json()["error"]

    def chunked(body: bytes):  # a generator: sent chunked, with no Content-Length to refuse it by
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    for body, status in ((at_limit[:-1], 200), (at_limit, 200), (at_limit + b" ", 413)):
        answer = client.post(
            "/v1/models/churn/predict", content=chunked(body), headers={"content-type": "application/json"}
        )
        assert answer.status_code == status, (len(body), answer.text)
    too_many = client.post("/v1/models/churn/predict", json=[rows[0]] * 51)
    assert too_many.status_code in (413,)
    for constant in (b"NaN", b"Infinity", b"-Infinity"):
        bad = json.dumps(rows[0]).replace('"tenure": 1', '"tenure": ' + constant.decode()).encode()
        response = client.post("/v1/models/churn/predict", content=bad, headers={"content-type": "application/json"})
        # Not JSON (the standard library takes it): a parse failure, 400, naming the token and the fix.
        error = response.json()["error"]
        assert response.status_code == 400 and "not valid JSON" in error and "null" in error, error
    garbled = client.post(
        "/v1/models/churn/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert garbled.status_code == 400


def test_bad_rows_name_the_field_and_leak_nothing(client, rows):
    response = client.post("/v1/models/churn/predict", json={**rows[0], "tenure": "abc"})
    assert response.status_code == 422 and response.json()["field"] == "tenure"
    missing = client.post("/v1/models/churn/predict", json={k: v for k, v in rows[0].items() if k != "contract"})
    assert missing.status_code == 422 and "contract" in missing.json()["error"]
    assert missing.json()["field"] == "contract" and "None" not in missing.json()["error"].split("JSON")[0]
    unknown = client.post("/v1/models/nope/predict", json=rows[0])
    assert unknown.status_code == 404
    for answer in (response, missing, unknown):
        text = answer.text
        assert "Traceback" not in text and "Error" not in text and "/work" not in text and ".py" not in text


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (SchemaError("column 'x' must be numeric"), 422),
        (DataError("bad"), 422),
        (ParameterError("bad"), 422),
        (RegistryError("no such model"), 404),
        (ServiceError(413, "too big"), 413),
        (ServiceError(503, "busy"), 503),
        (RuntimeError("/srv/app/secret.py failed"), 500),
    ],
)
def test_the_one_exception_table(exc, status):
    assert status_of(exc) == status
    body = error_body(exc)
    assert set(body) == {"error", "field"}
    assert "secret" not in body["error"] and "RuntimeError" not in body["error"]


def test_openapi_describes_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    for route in (
        "/v1/models",
        "/v1/models/{name}",
        "/v1/models/{name}/predict",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{name}",
        "/v2/models/{name}/ready",
        "/v2/models/{name}/infer",
        "/invocations",
        "/ping",
        "/metrics",
    ):
        assert route in paths, route


def test_metrics_count_requests_and_predictions(client, rows):
    client.post("/v1/models/churn/predict", json=rows[:3])
    text = client.get("/metrics").text
    assert 'oddsline_requests_total{model="churn",route="/v1/models/{name}/predict",status="200"}' in text
    assert "oddsline_predictions_total" in text and "oddsline_request_duration_seconds_bucket" in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(model_path):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "oddsline", "serve", str(model_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if process.poll() is not None:
            pytest.fail(process.stderr.read().decode())
        time.sleep(0.2)
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.communicate(timeout=30)
    assert process.returncode == 0


def test_open_inference_protocol_with_the_triton_client(server, rows, telco_model, telco_table):
    httpclient = pytest.importorskip("tritonclient.http", reason="tritonclient[http] is not installed")
    client = httpclient.InferenceServerClient(url=server)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("churn")
    metadata = client.get_model_metadata("churn")
    names = {i["name"] for i in metadata["inputs"]}
    assert names == set(telco_model.features.source_columns)
    inputs = []
    for item in metadata["inputs"]:
        values = [r[item["name"]] for r in rows]
        if item["datatype"] == "BYTES":
            array = np.array([["" if v is None else str(v)] for v in values], dtype=object)
        else:
            array = np.array([[np.nan if v is None else float(v)] for v in values], dtype=np.float64)
        tensor = httpclient.InferInput(item["name"], list(array.shape), item["datatype"])
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    result = client.infer("churn", inputs, outputs=[httpclient.InferRequestedOutput("probability")])
    got = result.as_numpy("probability").ravel()
    expected = telco_model.predict_proba(telco_table.slice(0, 20))[:, 1]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_prediction_log_holds_every_scored_row_and_hashes_pii(model_path, rows, tmp_path):
    from oddsline.monitor.prediction_files import read_predictions

    folder = tmp_path / "log"
    settings = Settings(prediction_log=str(folder), pii_columns=("tenure",))
    scored = 0
    with TestClient(create_app([load_served(str(model_path))], settings)) as client:
        for i in range(30):
            batch = rows[: 1 + i % 4]
            response = client.post("/v1/models/churn/predict", json=batch)
            scored += len(batch) if response.status_code == 200 else 0
        client.post("/v1/models/churn/predict", json={**rows[0], "tenure": "abc"})  # refused: not logged
        client.post("/invocations", json={"dataframe_records": rows[:2]})
        scored += 2
    logged = read_predictions(folder)
    assert logged.num_rows == scored
    features = json.loads(logged.column("features")[0].as_py())
    assert len(features["tenure"]) == 64 and features["contract"] == rows[0]["contract"]
    assert set(logged.column("route").to_pylist()) == {"/v1/models/churn/predict", "/invocations"}


def test_reload_swaps_good_versions_and_rejects_bad_ones(model_path, rows, tmp_path, telco_table):
    import oddsline

    path = tmp_path / "live.odl"
    path.write_bytes(model_path.read_bytes())
    settings = Settings(admin_token="s3cret")
    with TestClient(create_app([load_served(str(path))], settings)) as client:
        before = client.get("/v1/models/live").json()["version"]
        assert client.post("/admin/reload").status_code == 401
        assert client.post("/admin/reload", headers={"authorization": "Bearer wrong"}).status_code == 401
        retrained = oddsline.train(telco_table, target="churn", positive="Yes", C=0.1)
        retrained.save(path)
        outcome = client.post("/admin/reload", headers={"authorization": "Bearer s3cret"}).json()
        assert outcome["live"]["reloaded"] and outcome["live"]["version"] != before
        after = client.get("/v1/models/live").json()["version"]
        path.write_bytes(path.read_bytes()[:-100])  # a damaged file: rejected, the good one keeps serving
        outcome = client.post("/admin/reload", headers={"authorization": "Bearer s3cret"}).json()
        assert not outcome["live"]["reloaded"] and "traceback" not in outcome["live"]["error"].lower()
        assert client.get("/v1/models/live").json()["version"] == after
        assert client.post("/v1/models/live/predict", json=rows[0]).status_code == 200
        assert 'outcome="rejected"' in client.get("/metrics").text
    without_token = TestClient(create_app([load_served(str(model_path))]))
    assert without_token.post("/admin/reload").status_code == 404


def test_overload_is_answered_with_503_and_retry_after(model_path, rows):
    client = TestClient(create_app([load_served(str(model_path))], Settings(max_in_flight=0)))
    response = client.post("/v1/models/churn/predict", json=rows[0])
    assert response.status_code == 503 and response.headers["retry-after"] == "1"


def test_moving_an_alias_reloads_the_served_model(telco_model, telco_table, rows, tmp_path, monkeypatch):
    import oddsline
    from oddsline.registry import Registry

    monkeypatch.setenv("ODDSLINE_HOME", str(tmp_path / "home"))
    first = telco_model.save(tmp_path / "v1.odl")
    second = oddsline.train(telco_table, target="churn", positive="Yes", C=0.05).save(tmp_path / "v2.odl")
    with Registry() as registry:
        registry.register("churn", first)
        registry.register("churn", second)
        registry.set_alias("churn", "champion", 1)
    settings = Settings(watch_seconds=0.2)
    with TestClient(create_app([load_served("churn@champion")], settings)) as client:
        assert client.get("/v1/models/churn").json()["version"] == "1"
        p1 = client.post("/v1/models/churn/predict", json=rows[0]).json()["predictions"][0]["probability"]
        with Registry() as registry:
            registry.set_alias("churn", "champion", 2)
        deadline = time.time() + 20
        while client.get("/v1/models/churn").json()["version"] != "2" and time.time() < deadline:
            time.sleep(0.1)
        assert client.get("/v1/models/churn").json()["version"] == "2"
        p2 = client.post("/v1/models/churn/predict", json=rows[0]).json()["predictions"][0]["probability"]
        assert p1 != p2


def test_canary_is_sticky_by_key_and_shadow_only_logs(model_path, telco_table, rows, tmp_path):
    import oddsline
    from oddsline.monitor.prediction_files import read_predictions

    challenger_path = oddsline.train(telco_table, target="churn", positive="Yes", C=0.05).save(
        tmp_path / "challenger.odl"
    )
    champion = load_served(str(model_path))
    challenger = load_served(str(challenger_path))
    keyed = [dict(row, customer=f"c{i}") for i, row in enumerate(telco_table.drop(["churn"]).slice(0, 400).to_pylist())]
    canary = TestClient(
        create_app([champion], Settings(canary_percent=20, canary_key="customer"), {"churn": challenger})
    )
    first = canary.post("/v1/models/churn/predict", json=keyed).json()["predictions"]
    second = canary.post("/v1/models/churn/predict", json=keyed).json()["predictions"]
    share = np.mean([p["variant"] == "challenger" for p in first])
    assert 0.12 < share < 0.28
    assert [p["variant"] for p in first] == [p["variant"] for p in second]  # sticky
    assert {p["model_version"] for p in first} == {champion.version, challenger.version}
    # Each row keeps its place in the request: one prediction id per row, and the version that scored it.
    canary_log = tmp_path / "canary-log"
    with TestClient(
        create_app(
            [champion],
            Settings(canary_percent=20, canary_key="customer", prediction_log=str(canary_log)),
            {"churn": challenger},
        )
    ) as logged_canary:
        response = logged_canary.post("/v1/models/churn/predict", json=keyed)
    request_id = response.headers["x-request-id"]
    written = read_predictions(canary_log).sort_by("time").to_pylist()
    by_id = {row["prediction_id"]: row for row in written}
    assert sorted(by_id) == sorted(f"{request_id}:{i}" for i in range(len(keyed)))
    for i, answer in enumerate(response.json()["predictions"]):
        assert by_id[f"{request_id}:{i}"]["version"] == answer["model_version"]
        assert by_id[f"{request_id}:{i}"]["probability"] == answer["probability"]
    log = tmp_path / "log"
    with TestClient(
        create_app([champion], Settings(shadow=True, prediction_log=str(log)), {"churn": challenger})
    ) as shadow:
        answered = shadow.post("/v1/models/churn/predict", json=rows[:5]).json()["predictions"]
    expected = champion.model.predict_proba(telco_table.slice(0, 5))[:, 1]
    assert [p["probability"] for p in answered] == list(expected)
    logged = read_predictions(log)
    assert sorted(logged.column("route").to_pylist()) == ["/v1/models/churn/predict"] * 5 + ["shadow"] * 5


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=5),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)))
def test_no_body_makes_the_server_fail(client, body):
    for path in ("/v1/models/churn/predict", "/invocations", "/v2/models/churn/infer"):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code < 500, (path, body, response.text)
        if response.status_code >= 400:
            assert set(response.json()) == {"error", "field"}


def test_a_full_prediction_log_drops_and_counts_instead_of_blocking(tmp_path):
    from oddsline.monitor.prediction_files import read_predictions
    from oddsline.serve.prediction_log import PredictionLog, Scored

    counted: dict[str, int] = {}
    log = PredictionLog(
        tmp_path / "log", max_queue=5, on_rows=lambda outcome, n: counted.update({outcome: counted.get(outcome, 0) + n})
    )

    def request(n):
        return Scored("r", 0, "m", "1", "/", [{}] * n, [0.5] * n, [0.5] * n, [True] * n, 1.0)

    log.append(request(6))  # more than the whole queue holds: refused at once, counted
    log.append(request(2))
    log.close()
    assert log.dropped == 6 and log.written == 2
    assert counted == {"dropped": 6, "written": 2}  # what oddsline_prediction_log_rows_total reports
    assert read_predictions(tmp_path / "log").num_rows == 2


def test_observing_many_scores_at_once_equals_observing_each():
    from oddsline.serve.metrics import ServiceMetrics

    values = [*np.random.default_rng(0).uniform(size=500).tolist(), 0.1, 0.2, 0.9, 0.0, 1.0]
    one_by_one, at_once = ServiceMetrics(), ServiceMetrics()
    for v in values:
        one_by_one.scores.labels("m").observe(v)
    at_once.observe_many(at_once.child(at_once.scores, "m"), values)
    from prometheus_client.parser import text_string_to_metric_families

    def samples(metrics):
        family = next(
            f for f in text_string_to_metric_families(metrics.render().decode()) if f.name == "oddsline_score"
        )
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples if "created" not in s.name}

    expected, got = samples(one_by_one), samples(at_once)
    assert got == pytest.approx(expected, rel=1e-12)
    assert sum(v for k, v in got.items() if k[0].endswith("_count")) == len(values)


def test_recent_predictions_are_found_by_id_and_forgotten_oldest_first():
    from oddsline.serve.recent import Recent, prediction_ids

    recent = Recent(max_predictions=5)
    recent.remember("one", [{}], "m", "1", [0.25])
    recent.remember("batch:x", [{}] * 3, "m", "2", [0.1, 0.2, 0.3])
    assert prediction_ids("batch:x", 3) == ["batch:x:0", "batch:x:1", "batch:x:2"]
    assert recent.find("one").probability == 0.25
    assert recent.find("batch:x:2").probability == 0.3 and recent.find("batch:x:2").version == "2"
    assert recent.find("batch:x:3") is None and recent.find("batch:x") is None and recent.find("nope:0") is None
    recent.remember("late", [{}] * 2, "m", "1", [0.7, 0.8])  # 6 remembered > 5: the oldest goes
    assert recent.find("one") is None and recent.find("late:1").probability == 0.8
    assert recent.n_predictions == 5


def test_rows_scored_in_groups_are_remembered_by_their_place_in_the_request():
    from oddsline.serve.recent import Recent

    recent = Recent()
    recent.remember("req", [{}, {}], "challenger", "2", [0.9, 0.8], positions=[3, 0])
    recent.remember("req", [{}, {}], "champion", "1", [0.1, 0.2], positions=[1, 2])
    found = {i: recent.find(f"req:{i}") for i in range(4)}
    assert [(f.version, f.probability) for f in found.values()] == [("2", 0.8), ("1", 0.1), ("1", 0.2), ("2", 0.9)]
    assert recent.n_predictions == 4


def test_remembered_predictions_are_not_walked_by_the_cyclic_collector():
    """200,000 GC-tracked entries made every full collection pause the server for 40-100 ms."""
    import gc

    from oddsline.serve.recent import Recent

    recent = Recent()
    for i in range(1000):
        recent.remember(f"id{i}", [{"x": 1.0}], "m", "1", [0.5])
    gc.collect()
    assert not any(gc.is_tracked(entry) for entry in recent.predictions.values())


def test_a_responses_writes_in_one_loop_turn_reach_the_socket_as_one_write_in_order():
    import asyncio

    from oddsline.serve.protocol import _GatheringTransport

    class Recording:
        def __init__(self):
            self.writes, self.closed = [], False

        def write(self, data):
            assert not self.closed, "a write after close"
            self.writes.append(data)

        def is_closing(self):
            return self.closed

        def close(self):
            self.closed = True

        def get_extra_info(self, name):
            return {"peername": ("127.0.0.1", 1)}.get(name)

    async def scenario():
        inner = Recording()
        gathering = _GatheringTransport(inner)
        gathering.write(b"HTTP/1.1 200 OK\r\n\r\n")
        gathering.write(b'{"a": 1}')
        assert inner.writes == []  # nothing reaches the socket within the turn
        await asyncio.sleep(0)
        assert inner.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"a": 1}']
        gathering.write(b"next")
        gathering.close()  # pending bytes go out before the close
        assert inner.writes[-1] == b"next" and inner.closed
        assert gathering.get_extra_info("peername") == ("127.0.0.1", 1)

    asyncio.run(scenario())


def test_request_ids_are_unique_without_a_system_call_each():
    from oddsline.serve.request_ids import _RequestIds

    ids = _RequestIds()
    drawn = [ids.next() for _ in range(10_000)]
    assert len(set(drawn)) == 10_000 and all(len(i) == 24 for i in drawn)
    assert drawn[0][:16] != _RequestIds().next()[:16]  # another process (or instance) draws another prefix


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        (b'{"tenure": 1e999}', 422, "beyond float64"),  # the standard library would read inf
        (b'[{"tenure": -1e400}]', 422, "beyond float64"),
        (b'{"contract": "\\ud800"}', 400, "not valid JSON"),  # the standard library would take it
        (b'{"tenure": 1,}', 400, "not valid JSON"),
    ],
)
def test_numbers_beyond_float64_and_unpaired_surrogates_are_refused(client, raw, status, says):
    response = client.post("/v1/models/churn/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == status and says in response.json()["error"]


def test_the_log_writes_in_quiet_moments_and_waits_no_longer_than_max_defer(tmp_path):
    from oddsline.monitor.prediction_files import read_predictions
    from oddsline.serve.prediction_log import PredictionLog, Scored

    serving = [True]
    log = PredictionLog(
        tmp_path / "log", flush_seconds=0.01, max_wait_seconds=0.0, busy=lambda: serving[0], max_defer_seconds=0.5
    )

    def append():
        log.append(Scored("r", time.time_ns() // 1000, "m", "1", "/", [{"x": 1}], [0.5], [0.5], [True], 1.0))

    def seconds_until_written(n):
        started = time.monotonic()
        while log.written < n and time.monotonic() - started < 10:
            time.sleep(0.005)
        return time.monotonic() - started

    append()
    waited = seconds_until_written(1)
    assert log.written == 1 and waited >= 0.45  # requests were being served: it waited its 0.5 s, then wrote
    serving[0] = False
    append()
    assert seconds_until_written(2) < 5 and log.written == 2  # quiet: written at the next wake-up
    serving[0] = True
    append()
    log.close()  # closing writes what is queued, whatever is in flight
    assert log.written == 3 and read_predictions(tmp_path / "log").num_rows == 3


_LEAKS = ("Traceback", ".py", "site-packages", "object at 0x", "Error(", "/tmp/", "/root/", "/home/")


def test_no_error_body_on_any_route_carries_a_traceback_a_path_or_a_class(model_path, rows):
    """Every documented route, fed bodies and parameters it refuses: each error is the service's
    {"error", "field"} and names no file, no class and no traceback (the model's own file path
    included)."""
    app = create_app([load_served(str(model_path))], Settings(max_rows=50, max_body_bytes=4096))
    bad_bodies = [
        b"{not json",
        b"[" * 5000,
        b'{"a": 1, "a": 2}',
        b'"just a string"',
        b"[]",
        b"{}",
        b"\xff\xfe",
        b" " * 5000,
    ]
    errors = 0
    with TestClient(app, raise_server_exceptions=False) as client:
        for path, operations in app.openapi()["paths"].items():
            for method in operations:
                for name in ("churn", "no-such-model", "..%2F..%2Fetc"):
                    url = path.replace("{name}", name).replace("{version}", "nope")
                    attempts = bad_bodies if method == "post" else [None]
                    for body in attempts:
                        answer = client.request(
                            method.upper(),
                            url,
                            content=body,
                            params={"explain": "maybe"},
                            headers={"content-type": "application/json"},
                        )
                        assert answer.status_code < 500, (method, url, body, answer.text[:200])
                        if answer.status_code < 400:
                            continue
                        errors += 1
                        if "json" in answer.headers.get("content-type", ""):
                            assert set(answer.json()) == {"error", "field"}, (url, answer.text[:200])
                        leaked = [token for token in _LEAKS if token in answer.text]
                        assert not leaked, (method, url, leaked, answer.text[:300])
                        assert str(model_path.parent) not in answer.text
        # Routing's own refusals too: no route for the path, or not for the method (Allow says which).
        unknown = client.get("/no/such/route")
        assert unknown.status_code == 404 and unknown.json() == {
            "error": "no such route; GET /openapi.json lists them",
            "field": None,
        }
        wrong = client.get("/v1/models/churn/predict")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "POST" and set(wrong.json()) == {"error", "field"}
    assert errors > 100
