"""The server as operations sees it: metrics summed over worker processes, a per-request timeout,
graceful shutdown under load (readiness first, nothing lost) and hot reload under load (no failed
request). Real uvicorn processes on loopback; load bounded in count and time."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
import httpx2 as httpx
from fastapi.testclient import TestClient

from oddsline.serve import Settings, create_app
from oddsline.serve.models import load_served
from serve_process import Load, output, workers
from serve_process import start_server as _start

PREDICT = "/v1/models/churn/predict"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, telco_model):
    return telco_model.save(tmp_path_factory.mktemp("lifecycle") / "churn.odl")


@pytest.fixture(scope="module")
def rows(telco_table):
    return telco_table.slice(0, 20).drop(["churn"]).to_pylist()


def _predict_count(metrics_text: str) -> float:
    pattern = r'oddsline_requests_total\{model="churn",route="/v1/models/\{name\}/predict",status="200"\} ([0-9.e+]+)'
    return sum(float(v) for v in re.findall(pattern, metrics_text))


def test_metrics_count_every_worker(model_path, rows):
    process, base = _start([str(model_path), "--workers", "2", "--prediction-log", "none"])
    try:
        for i in range(60):  # a new connection each: the two workers share the listening socket
            assert httpx.post(base + PREDICT, json=rows[i % 20], timeout=10).status_code == 200
        scrapes = [_predict_count(httpx.get(base + "/metrics", timeout=10).text) for _ in range(8)]
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert scrapes == [60.0] * 8
    assert process.returncode == 0


def test_a_request_past_the_timeout_is_answered_504(model_path, rows):
    many = (rows * 500)[:10_000]
    settings = Settings(request_timeout=0.05, max_rows=10_000, max_body_bytes=64 << 20)
    with TestClient(create_app([load_served(str(model_path))], settings)) as client:
        response = client.post(PREDICT + "?explain=true", json=many)  # 10k rows explained: far past 50 ms
        assert response.status_code == 504
        assert "within 0.05 s" in response.json()["error"]
        assert client.get("/v2/health/live").status_code == 200  # and the server goes on


def test_graceful_shutdown_fails_readiness_first_and_loses_nothing(model_path, rows, tmp_path):
    from oddsline.monitor.prediction_files import read_predictions

    log = tmp_path / "log"
    process, base = _start([str(model_path), "--drain-seconds", "2.0", "--prediction-log", str(log)])
    readiness: list[tuple[float, int]] = []
    with Load(base, rows) as load, httpx.Client(base_url=base, timeout=5) as probe:
        time.sleep(1.0)
        terminated = time.time()
        process.send_signal(signal.SIGTERM)
        while process.poll() is None and time.time() < terminated + 20:
            with contextlib.suppress(httpx.TransportError):  # the server stopped listening
                readiness.append((time.time(), probe.get("/v2/health/ready").status_code))
            time.sleep(0.05)
    process.wait(timeout=30)
    assert process.returncode == 0
    answered = [o for o in load.outcomes if isinstance(o.status, int)]
    assert all(o.status == 200 for o in answered), {o.status for o in answered}
    # Readiness turned 503 within a moment of SIGTERM, while predictions were still being answered.
    first_unready = min(t for t, status in readiness if status == 503)
    assert first_unready - terminated < 1.0  # well inside the 2 s drain, even on a loaded machine
    assert any(o.time > first_unready + 0.5 for o in answered)
    # Connections failed only once the drain was over and the server stopped listening.
    failures = [o.time for o in load.outcomes if not isinstance(o.status, int)]
    assert all(t > terminated + 1.9 for t in failures)
    # Every answered prediction is in the log: flushed at shutdown.
    assert read_predictions(log).num_rows == len(answered)


def test_moving_the_alias_under_load_fails_no_request(telco_model, telco_table, rows, tmp_path):
    import oddsline
    from oddsline.registry import Registry

    home = tmp_path / "home"
    env = {"ODDSLINE_HOME": str(home)}
    os.environ["ODDSLINE_HOME"] = str(home)
    try:
        first = telco_model.save(tmp_path / "v1.odl")
        second = oddsline.train(telco_table, target="churn", positive="Yes", C=0.05).save(tmp_path / "v2.odl")
        with Registry() as registry:
            registry.register("churn", Path(first))
            registry.register("churn", Path(second))
            registry.set_alias("churn", "champion", 1)
        process, base = _start(["churn@champion", "--watch-seconds", "0.2", "--prediction-log", "none"], env)
        try:
            with Load(base, rows) as load:
                time.sleep(1.0)
                with Registry() as registry:
                    registry.set_alias("churn", "champion", 2)
                deadline = time.time() + 20
                while time.time() < deadline:
                    with load.lock:
                        if sum(o.version == "2" for o in load.outcomes[-50:]) == 50:
                            break
                    time.sleep(0.1)
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        del os.environ["ODDSLINE_HOME"]
    statuses = {o.status for o in load.outcomes}
    assert statuses == {200}, statuses
    versions = [o.version for o in load.outcomes]
    assert versions[0] == "1" and versions[-1] == "2"
    assert len(load.outcomes) > 100


def test_the_hot_route_past_the_timeout_is_answered_504_too(model_path, rows):
    # An unseen level in every row: the compiled scorer declines them, so they are decoded straight
    # into columns and each scored by the one-row scorer on a thread: tens of ms.
    many = [{**row, "contract": "Decade"} for row in (rows * 500)[:10_000]]
    settings = Settings(request_timeout=0.005, max_rows=10_000, max_body_bytes=64 << 20)
    with TestClient(create_app([load_served(str(model_path))], settings)) as client:
        response = client.post(PREDICT, json=many)
        assert response.status_code == 504 and "within 0.005 s" in response.json()["error"]
        assert client.post(PREDICT, json=rows[0]).status_code == 200  # within it: answered


def test_only_the_deadline_watcher_s_cancellations_are_timeouts():
    import asyncio

    from oddsline.serve.deadlines import Deadlines

    async def scenario():
        deadlines = Deadlines(timeout=0.02)
        slow = asyncio.create_task(asyncio.sleep(10))
        other = asyncio.create_task(asyncio.sleep(10))
        quick = asyncio.create_task(asyncio.sleep(0))
        now = time.perf_counter()
        for task in (slow, other, quick):
            deadlines.enter(task, now)
        await quick
        deadlines.leave(quick)
        other.cancel()  # cancelled by someone else (a shutdown): not a timeout
        for task in (slow, other):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return deadlines.expired(slow), deadlines.expired(other), deadlines.expired(quick)

    assert asyncio.run(scenario()) == (True, False, False)


def test_serve_says_where_it_listens(model_path):
    process, base = _start([str(model_path), "--prediction-log", "none", "--labels", "none"])
    try:
        first = output(process).splitlines()[0]
        assert first.startswith("oddsline serve: churn (version ") and f"on {base} with 1 worker(s)" in first
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_access_log_prints_a_line_per_request_only_when_asked(model_path, rows):
    """The app's answers and those the HTTP layer gives itself (here a 414) alike."""
    for options, expected in (([], False), (["--access-log", "--max-url-bytes", "100"], True)):
        options += ["--header-timeout", "1"]
        process, base = _start([str(model_path), "--prediction-log", "none", "--labels", "none", *options])
        try:
            host, port = base.removeprefix("http://").split(":")
            idle = socket.create_connection((host, int(port)), timeout=10)  # sends nothing: 408 after 1 s
            assert httpx.post(f"{base}{PREDICT}", json=rows[0]).status_code == 200
            assert httpx.get(f"{base}/no/such/route").status_code == 404
            if expected:
                assert httpx.get(f"{base}/v2/{'x' * 200}").status_code == 414
            assert idle.recv(65536).startswith(b"HTTP/1.1 408")  # the deadline holds with the log on too
            idle.close()
            deadline = time.time() + 5
            while expected and " 408" not in output(process) and time.time() < deadline:
                time.sleep(0.1)
            text = output(process)
        finally:
            process.terminate()
            process.wait(timeout=30)
        logged = [line for line in text.splitlines() if '"POST /v1/models/churn/predict HTTP/1.1" 200' in line]
        assert bool(logged) == expected, text
        assert ('"GET /no/such/route HTTP/1.1" 404' in text) == expected, text
        assert (f'"GET /v2/{"x" * 20}' in text and '" 414' in text) == expected, text
        assert ('- "- - HTTP/1.1" 408' in text) == expected, text  # the idle socket: no request line


def test_labels_join_predictions_made_by_any_worker(model_path, telco_table, tmp_path):
    """With two workers, a label reaches one of them; the prediction it names was made by either.
    Each worker's memory knows only its own, so half the labels came back unknown; the prediction log,
    which all workers write, joins the rest."""
    from oddsline.monitor.prediction_files import read_predictions

    log = tmp_path / "log"
    process, base = _start(
        [str(model_path), "--workers", "2", "--prediction-log", str(log), "--labels", "none", "--drift-seconds", "0"]
    )
    try:
        rows = telco_table.drop(["churn"]).slice(0, 60).to_pylist()
        truth = telco_table.column("churn").to_pylist()[:60]
        ids = []
        for row in rows:  # a new connection per request: the kernel spreads them over both workers
            ids.append(httpx.post(f"{base}{PREDICT}", json=row).json()["request_id"])
        assert len({i[:16] for i in ids}) == 2, "every prediction came from one worker; the test proves nothing"
        deadline = time.time() + 30
        while time.time() < deadline and (not log.exists() or read_predictions(log).num_rows < 60):
            time.sleep(0.2)
        body = {"labels": [{"id": i, "label": t} for i, t in zip(ids, truth, strict=True)]}
        answers = [httpx.post(f"{base}/v1/labels", json=body).json() for _ in range(4)]  # each on either worker
        for answer in answers:  # every label joins; a worker counts a prediction's label once
            assert answer["matched"] + answer["repeated"] == 60 and answer["unknown"] == 0, answer
        metrics = httpx.get(f"{base}/metrics").text
        labelled = sum(float(v) for v in re.findall(r"^oddsline_labelled_total\{[^}]*\} (\S+)$", metrics, re.M))
        assert labelled == sum(a["matched"] for a in answers) and labelled in (60, 120)
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_labels_posted_before_the_other_worker_logged_their_predictions_join_when_it_does(
    model_path, telco_table, tmp_path
):
    """A label posted right after its prediction, to the worker that did not make it, finds nothing yet
    (the other worker writes its log within 5 s): it waits, is tried again, and joins then; none is
    counted unknown."""
    process, base = _start(
        [str(model_path), "--workers", "2", "--prediction-log", str(tmp_path / "log"), *("--labels", "none")]
    )

    def counts() -> dict[str, float]:
        text = httpx.get(f"{base}/metrics").text
        found = re.findall(r'^oddsline_labels_total\{model="[^"]*",outcome="(\w+)"\} (\S+)$', text, re.M)
        return {o: float(v) for o, v in found}

    try:
        rows = telco_table.drop(["churn"]).slice(0, 80).to_pylist()
        truth = telco_table.column("churn").to_pylist()[:80]
        pending = 0
        for row, label in zip(rows, truth, strict=True):  # a new connection each: either worker
            scored = httpx.post(f"{base}{PREDICT}", json=row).json()
            answer = httpx.post(f"{base}/v1/labels", json={"labels": [{"id": scored["request_id"], "label": label}]})
            pending += answer.json()["pending"]
            assert answer.json()["unknown"] == 0, answer.json()  # waiting is not unknown
        assert pending > 0, "every label reached the worker that made its prediction; the test proves nothing"
        deadline = time.time() + 30
        while time.time() < deadline and counts().get("matched", 0) < 80:
            time.sleep(0.5)
        assert counts() == {"matched": 80.0, "unknown": 0.0, "invalid": 0.0, "repeated": 0.0}
        metrics = httpx.get(f"{base}/metrics").text
        labelled = sum(float(v) for v in re.findall(r"^oddsline_labelled_total\{[^}]*\} (\S+)$", metrics, re.M))
        assert labelled == 80
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_a_label_that_names_no_prediction_is_counted_unknown_once_its_wait_is_over(model_path, tmp_path):
    from oddsline.serve.label_join import PENDING_SECONDS, retry_pending

    def unknown(client: TestClient) -> str | None:
        found = re.search(
            r'^oddsline_labels_total\{model="",outcome="unknown"\} (\S+)$', client.get("/metrics").text, re.M
        )
        return found and found.group(1)

    settings = Settings(prediction_log=str(tmp_path / "log"), labels_folder=None, drift_seconds=0)
    with TestClient(create_app([load_served(str(model_path))], settings)) as client:
        answer = client.post("/v1/labels", json={"labels": [{"id": "nobody", "label": "Yes"}]}).json()
        assert answer["unknown"] == 0 and answer["pending"] == 1
        service = client.app.state.service
        retry_pending(service)
        assert unknown(client) == "0.0" and len(service.pending_labels) == 1  # still waiting
        retry_pending(service, now=time.monotonic() + PENDING_SECONDS + 1)
        assert unknown(client) == "1.0" and len(service.pending_labels) == 0


def test_a_label_that_waited_counts_from_its_arrival_when_its_prediction_turns_up(model_path, rows, tmp_path):
    """The prediction becomes known after the label (another worker's log, seconds later): the label
    is matched then, but its delay and the label clock are those of its arrival."""
    from oddsline.serve.label_join import retry_pending
    from oddsline.serve.scoring import score_and_record

    settings = Settings(prediction_log=str(tmp_path / "log"), labels_folder=None, drift_seconds=0)
    with TestClient(create_app([load_served(str(model_path))], settings)) as client:
        service = client.app.state.service
        posted = time.time()
        answer = client.post("/v1/labels", json={"labels": [{"id": "later", "label": "Yes"}]}).json()
        arrived_by = time.time()
        assert answer["pending"] == 1
        time.sleep(0.5)
        served = service.models.snapshot()["churn"]
        score_and_record(
            service, served, [rows[0]], {"path": PREDICT, "state": {"request_id": "later", "started": 0.0}}
        )
        retry_pending(service)
        text = client.get("/metrics").text
    clock = float(re.search(r'^oddsline_last_label_timestamp_seconds\{model="churn"\} (\S+)$', text, re.M).group(1))
    assert posted <= clock <= arrived_by, (posted, clock, arrived_by)
    assert 'oddsline_labels_total{model="churn",outcome="matched"} 1.0' in text


def test_workers_killed_with_requests_in_flight_leave_no_stale_gauge(model_path, telco_table):
    """The supervisor replaces killed workers and marks them dead for the metrics: their requests in
    flight stop counting (prometheus_client keeps a dead process's live gauges otherwise). The label
    clock stays at the server's start: replacements started later must not make labels look fresh."""
    process, base = _start([str(model_path), "--workers", "2", "--prediction-log", "none", "--drift-seconds", "0"])

    def gauge(name: str) -> float:
        found = re.search(rf"^{name} (\S+)$", httpx.get(f"{base}/metrics").text, re.M)
        assert found is not None, name
        return float(found.group(1))

    def in_flight() -> float:
        return gauge("oddsline_requests_in_flight")

    label_clock = gauge('oddsline_last_label_timestamp_seconds\\{model="churn"\\}')

    many = telco_table.drop(["churn"]).to_pylist() + telco_table.drop(["churn"]).slice(0, 2957).to_pylist()

    def slow() -> None:
        with contextlib.suppress(httpx.TransportError):
            httpx.post(f"{base}{PREDICT}?explain=true", json=many, timeout=60)

    try:
        posting = [threading.Thread(target=slow, daemon=True) for _ in range(4)]
        for thread in posting:
            thread.start()
        deadline = time.time() + 10
        while in_flight() == 0 and time.time() < deadline:
            time.sleep(0.02)
        assert in_flight() > 0, "no slow request was in flight: the test proves nothing"
        killed = workers(process.pid)
        assert len(killed) == 2
        for worker in killed:
            worker.kill()
        deadline = time.time() + 60
        while time.time() < deadline:
            alive = {w.pid for w in workers(process.pid)}
            if len(alive) == 2 and not alive & {w.pid for w in killed}:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/v2/health/ready", timeout=2).status_code == 200:
                        break
            time.sleep(0.2)
        for thread in posting:
            thread.join(timeout=60)
        assert in_flight() == 0
        assert gauge('oddsline_last_label_timestamp_seconds\\{model="churn"\\}') == label_clock
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_a_worker_killed_under_load_is_replaced_and_only_its_connections_fail(model_path, rows):
    """SIGKILL one of two workers while 4 clients post on keep-alive connections: the connections the
    dead worker held fail once (at most one failure per client, as each reconnects), every other
    request is answered 200, the server replaces the worker, and both serve again within seconds."""
    process, base = _start([str(model_path), "--workers", "2", "--prediction-log", "none", "--drift-seconds", "0"])
    try:
        with Load(base, rows, threads=4) as load:
            time.sleep(1.5)
            victim = workers(process.pid)[0]
            killed = time.time()
            victim.kill()
            deadline = time.time() + 30
            while time.time() < deadline:
                alive = {w.pid for w in workers(process.pid)}
                if len(alive) == 2 and victim.pid not in alive:
                    break
                time.sleep(0.1)
            replaced = time.time()
            time.sleep(1.5)
        assert replaced - killed < 15, "the worker was not replaced"
        failures = [(o.time, o.status) for o in load.outcomes if o.status != 200]
        assert all(not isinstance(status, int) for _, status in failures), failures  # no 5xx, only resets
        assert len(failures) <= 4, failures
        after = [o.status for o in load.outcomes if o.time > killed + 1.0]
        assert after and all(status == 200 for status in after)
        assert {httpx.get(f"{base}/v2/health/ready").status_code for _ in range(10)} == {200}
    finally:
        process.terminate()
        process.wait(timeout=60)
