"""Shedding at the HTTP layer, against a real server admitting one request at a time: while a request
is in flight, the next is answered 503 with Retry-After by the protocol itself as soon as its head
arrives (no Server-Timing: the app never saw it), its body is discarded as it arrives, the same
connection then serves the next request, and /metrics counts each refusal under its route template
as the app counts its own. A client that asked to close, or that waits for ``100 Continue``, is
answered accordingly. A client that comes back sooner than Retry-After on the same connection gets
its next 503 held, longer each time, and answers stay in order."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
import httpx2 as httpx

from serve_process import start_server

PREDICT = "/v1/models/churn/predict"
TEMPLATE = "/v1/models/{name}/predict"


@pytest.fixture(scope="module")
def server(telco_model_file):
    process, base = start_server(
        [
            str(telco_model_file),
            "--max-in-flight",
            "1",
            "--body-timeout",
            "2",
            "--prediction-log",
            "none",
            "--labels",
            "none",
        ]
    )
    yield base
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def body(telco_table) -> bytes:
    return json.dumps(telco_table.slice(0, 3).drop(["churn"]).to_pylist()).encode()


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _head(path: str, length: int, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json", f"Content-Length: {length}"]
    return ("\r\n".join([*lines, *extra]) + "\r\n\r\n").encode()


def _answer(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response read off the socket: status, headers (lower-case names), body."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = s.recv(65536)
        assert chunk, f"closed before an answer: {received!r}"
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = s.recv(65536)
        assert chunk, "closed inside the body"
        rest += chunk
    assert len(rest) == length, "more bytes than one answer"
    return int(status_line.split()[1]), headers, rest


def _closed(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def _counter(base: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{base}/metrics").text
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.partition(" ")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


class _Holder:
    """A request kept in flight: its head and half its body sent, the rest held back."""

    def __init__(self, base: str, body: bytes) -> None:
        self.socket, self.body = _connect(base), body
        self.socket.sendall(_head(PREDICT, len(body)) + body[: len(body) // 2])
        time.sleep(0.3)  # its task has started and counts in flight

    def release(self) -> tuple[int, dict[str, str], bytes]:
        self.socket.sendall(self.body[len(self.body) // 2 :])
        answer = _answer(self.socket)
        self.socket.close()
        return answer


def test_at_the_limit_the_protocol_answers_503_discards_the_body_and_keeps_the_connection(server, body):
    shed_before = _counter(server, "oddsline_rejected_overload_total")
    routed_before = _counter(server, "oddsline_requests_total", route=TEMPLATE, status="503")
    holder = _Holder(server, body)
    with _connect(server) as s:
        s.sendall(_head(PREDICT, len(body)) + body[:10])  # the answer must not wait for the body
        status, headers, answer = _answer(s)
        assert status == 503 and headers["retry-after"] == "1" and headers["x-request-id"]
        assert "server-timing" not in headers  # answered before the app
        assert json.loads(answer) == {"error": "the server is at its concurrency limit; retry shortly", "field": None}
        s.sendall(body[10:])  # the rest of the refused body, then more requests on the same connection
        s.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: test\r\n\r\n")
        assert _answer(s)[0] == 200
        s.sendall(_head(PREDICT, len(body)) + body)
        assert _answer(s)[0] == 503
        status, _, answer = holder.release()
        assert status == 200 and len(json.loads(answer)["predictions"]) == 3
        s.sendall(_head(PREDICT, len(body)) + body)
        status, headers, answer = _answer(s)
        assert status == 200 and "server-timing" in headers and len(json.loads(answer)["predictions"]) == 3
    assert _counter(server, "oddsline_rejected_overload_total") == shed_before + 2
    assert _counter(server, "oddsline_requests_total", route=TEMPLATE, status="503") == routed_before + 2


def test_a_shed_request_on_an_unknown_path_is_counted_as_other(server, body):
    before = _counter(server, "oddsline_requests_total", route="other", status="503")
    holder = _Holder(server, body)
    with _connect(server) as s:
        s.sendall(_head("/no/such/route", 2) + b"{}")
        assert _answer(s)[0] == 503
    holder.release()
    assert _counter(server, "oddsline_requests_total", route="other", status="503") == before + 1


def test_a_shed_request_whose_body_stops_is_closed_at_the_body_deadline_without_a_second_answer(server, body):
    holder = _Holder(server, body)
    with _connect(server) as s:
        s.sendall(_head(PREDICT, len(body)) + body[:10])
        assert _answer(s)[0] == 503
        holder.release()
        started = time.perf_counter()
        assert s.recv(65536) == b""  # closed, nothing more written (no 408 after the 503)
        assert time.perf_counter() - started < 4


def test_a_client_that_asked_to_close_is_answered_then_closed(server, body):
    holder = _Holder(server, body)
    with _connect(server) as s:
        s.sendall(_head(PREDICT, len(body), "Connection: close") + body)
        status, headers, _ = _answer(s)
        assert status == 503 and headers["connection"] == "close"
        assert _closed(s)
    holder.release()


def test_a_client_waiting_for_100_continue_is_answered_and_closed(server, body):
    holder = _Holder(server, body)
    with _connect(server) as s:
        s.sendall(_head(PREDICT, len(body), "Expect: 100-continue"))  # no body until told to
        status, headers, _ = _answer(s)
        assert status == 503 and headers["retry-after"] == "1" and headers["connection"] == "close"
        assert _closed(s)
    holder.release()


def test_requests_waiting_for_the_event_loop_count_against_the_limit(server, body):
    """The app scores a small request without yielding, so inside the app at most one is ever in
    flight; two hundred complete requests arriving together still exceed a limit of one while they wait."""
    sockets = [_connect(server) for _ in range(200)]
    request = _head(PREDICT, len(body)) + body
    for s in sockets:
        s.sendall(request)
    statuses = [_answer(s)[0] for s in sockets]
    for s in sockets:
        s.close()
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 1
    assert statuses.count(503) >= 1, "every request was admitted: the waiting ones were not counted"


def test_probes_and_scrapes_pass_while_the_limit_is_reached(server, body):
    holder = _Holder(server, body)
    assert httpx.get(f"{server}/v2/health/live").status_code == 200
    assert httpx.get(f"{server}/metrics").status_code == 200
    holder.release()


def _refused_after(s: socket.socket, body: bytes) -> float:
    """Seconds from sending a request to its 503."""
    started = time.perf_counter()
    s.sendall(_head(PREDICT, len(body)) + body)
    assert _answer(s)[0] == 503
    return time.perf_counter() - started


def test_a_client_retrying_at_once_waits_longer_for_each_503_and_not_after_waiting_as_told(server, body):
    holder = _Holder(server, body)
    try:
        _retrying_at_once(server, body)
    finally:
        holder.release()


def _retrying_at_once(server: str, body: bytes) -> None:
    with _connect(server) as s:
        waits = [_refused_after(s, body) for _ in range(6)]
        # Held 0, 10, 20, 40, 80, 160 ms: each a lower bound (a busy machine only adds to it), less the
        # event loop's timer granularity (its clock is read once per turn, to the millisecond).
        for wait, held in zip(waits[1:], (0.01, 0.02, 0.04, 0.08, 0.16), strict=True):
            assert wait >= held - 0.003, waits
        time.sleep(1.05)  # Retry-After: 1, as told
        assert _refused_after(s, body) < 0.16, "a client that waited as told was held as if it had not"
    with _connect(server) as other:  # a hold is per connection: another client's first 503 is not held
        assert _refused_after(other, body) < 0.16


def test_a_request_sent_while_a_503_is_held_is_answered_after_it(server, body):
    holder = _Holder(server, body)
    try:
        with _connect(server) as s:
            _refused_after(s, body)
            ready = b"GET /v2/health/ready HTTP/1.1\r\nHost: test\r\n\r\n"
            s.sendall(_head(PREDICT, len(body)) + body + ready)  # the 503 of the first is held, the GET follows
            assert _answer(s)[0] == 503
            assert _answer(s)[0] == 200
    finally:
        holder.release()
