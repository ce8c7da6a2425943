"""Connection hygiene of ``oddsline serve`` at the HTTP layer, against a real server on loopback:
sockets that never finish their head or body are answered 408 and closed within the deadlines while
legitimate requests keep being served; the URL, header-count, header-line and head-size limits hold
at limit and refuse at limit + 1 (414, 431); every refusal is counted by reason in /metrics."""

from __future__ import annotations

import json
import re
import selectors
import socket
import threading
import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
import contextlib

import httpx2 as httpx

from oddsline.serve.settings import ConnectionLimits
from serve_process import start_server

# Not the defaults: the limits are given on the command line, so the tests also show that they reach
# the HTTP layer of the workers.
LIMITS = ConnectionLimits(max_url_bytes=4000, max_headers=60, max_header_bytes=4000, max_head_bytes=40000)
HEADER_TIMEOUT, BODY_TIMEOUT, KEEP_ALIVE = 1.0, 2.0, 1.0
LEGITIMATE = 100  # a client's predictions during each attack: their p99 is held under 1 s


@pytest.fixture(scope="module")
def server(telco_model_file):
    process, base = start_server(
        [
            str(telco_model_file),
            "--header-timeout",
            str(HEADER_TIMEOUT),
            "--body-timeout",
            str(BODY_TIMEOUT),
            "--prediction-log",
            "none",
            "--labels",
            "none",
            "--drift-seconds",
            "0",
            "--keep-alive",
            str(KEEP_ALIVE),
            *("--max-url-bytes", str(LIMITS.max_url_bytes), "--max-headers", str(LIMITS.max_headers)),
            *("--max-header-bytes", str(LIMITS.max_header_bytes), "--max-head-bytes", str(LIMITS.max_head_bytes)),
        ]
    )
    yield base
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def row(telco_table):
    return telco_table.slice(0, 1).drop(["churn"]).to_pylist()[0]


def _address(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


def _exchange(base: str, head: bytes, body: bytes = b"") -> bytes:
    """Send one raw request and read until the server closes or answers (at most 10 s)."""
    with socket.create_connection(_address(base), timeout=10) as s:
        # The server may close while we are still sending: read what it answered all the same.
        with contextlib.suppress(OSError):
            s.sendall(head + body)
        received = b""
        try:
            while b"\r\n\r\n" not in received or not _complete(received):
                chunk = s.recv(65536)
                if not chunk:
                    break
                received += chunk
        except OSError:
            pass
        return received


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    match = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    return match is not None and len(body) >= int(match.group(1))


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def _refused(base: str, reason: str) -> float:
    text = httpx.get(f"{base}/metrics").text
    match = re.search(rf'oddsline_connections_refused_total\{{reason="{reason}"\}} ([0-9.e+]+)', text)
    assert match is not None, f"no series for reason {reason!r}"
    return float(match.group(1))


def _get(path: str, headers: list[bytes] | None = None) -> bytes:
    lines = [b"GET " + path.encode() + b" HTTP/1.1", b"host: x", *(headers or []), b"connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


class _Attack:
    """Hostile sockets held open against the server while one client posts predictions: each socket
    sends its opening bytes, the trickling ones one more byte every 0.2 s; what each was answered and
    when it was closed is recorded, and the client's statuses and latencies."""

    def __init__(self, server: str, openings: list[bytes], trickle: list[bool]) -> None:
        self.server, self.openings, self.trickle = server, openings, trickle
        self.answers: dict[socket.socket, bytes] = {}
        self.closed_at: dict[socket.socket, float] = {}
        self.statuses: list[int] = []
        self.latencies: list[float] = []

    def run(self, row: dict, seconds: float) -> None:
        selector = selectors.DefaultSelector()
        sockets = []
        for opening in self.openings:
            s = socket.create_connection(_address(self.server))
            s.setblocking(False)
            sockets.append(s)
            selector.register(s, selectors.EVENT_READ)
            if opening:
                s.send(opening)
        trickling = [s for s, t in zip(sockets, self.trickle, strict=True) if t]
        client = threading.Thread(target=self._legitimate, args=(row,))
        client.start()
        opened = time.perf_counter()
        next_trickle = opened
        while len(self.closed_at) < len(sockets) and time.perf_counter() - opened < seconds:
            if time.perf_counter() >= next_trickle:
                for s in trickling:
                    if s not in self.closed_at:
                        with contextlib.suppress(OSError):
                            s.send(b"a")
                next_trickle += 0.2
            for key, _ in selector.select(timeout=0.05):
                s = key.fileobj
                try:
                    chunk = s.recv(65536)  # type: ignore[union-attr]
                except OSError:
                    chunk = b""
                self.answers[s] = self.answers.get(s, b"") + chunk  # type: ignore[index]
                if not chunk:
                    self.closed_at[s] = time.perf_counter() - opened  # type: ignore[index]
                    selector.unregister(s)
        client.join()
        for s in sockets:
            s.close()
        self.sockets = sockets

    def _legitimate(self, row: dict) -> None:
        with httpx.Client(base_url=self.server, timeout=10) as client:
            for _ in range(LEGITIMATE):
                t0 = time.perf_counter()
                self.statuses.append(client.post("/v1/models/churn/predict", json=row).status_code)
                self.latencies.append(time.perf_counter() - t0)
                time.sleep(0.02)

    def check(self, deadline: float) -> None:
        """Every socket answered 408 (or reset before it was read) and closed within ``deadline`` plus
        slack; every legitimate request answered 200, p99 of 100 under 1 s."""
        n = len(self.sockets)
        assert len(self.closed_at) == n, f"{n - len(self.closed_at)} sockets still open"
        assert max(self.closed_at.values()) < deadline + 2.0
        assert all(_status(self.answers[s]) == 408 for s in self.sockets if s in self.answers)
        assert sum(_status(answer) == 408 for answer in self.answers.values()) >= 0.95 * n
        assert self.statuses == [200] * LEGITIMATE
        assert np.percentile(self.latencies, 99) < 1.0, sorted(self.latencies)[-5:]


def test_idle_half_sent_and_trickling_heads_are_closed_while_requests_are_served(server, row):
    """300 hostile sockets: 100 send nothing, 100 half a request line, 100 a header byte every 0.2 s.
    All are answered 408 and closed within the header deadline (plus scheduling slack) while a
    client's predictions keep succeeding quickly."""
    before = _refused(server, "header_timeout")
    openings = (
        [b""] * 100 + [b"POST /v1/models/churn/predict HT"] * 100 + [b"GET /v2/health/live HTTP/1.1\r\nx-a: "] * 100
    )
    attack = _Attack(server, openings, [False] * 200 + [True] * 100)
    attack.run(row, HEADER_TIMEOUT + 5)
    attack.check(HEADER_TIMEOUT)
    assert _refused(server, "header_timeout") - before >= 300


def test_bodies_that_stop_or_trickle_are_closed_while_requests_are_served(server, row):
    """200 hostile sockets with a complete head announcing 1,000 bytes: 100 send 10 bytes of body and
    stop, 100 send a byte every 0.2 s (a body that would take 200 s). The body deadline runs from the
    end of the head, not from the last byte: all are answered 408 and closed within it."""
    before = _refused(server, "body_timeout")
    head = (
        b"POST /v1/models/churn/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 1000\r\n\r\n"
    )
    attack = _Attack(server, [head + b'{"tenure":'] * 200, [False] * 100 + [True] * 100)
    attack.run(row, BODY_TIMEOUT + 5)
    attack.check(BODY_TIMEOUT)
    assert _refused(server, "body_timeout") - before >= 190


def test_a_body_that_stops_arriving_is_answered_408_and_the_server_serves_on(server, row):
    before = _refused(server, "body_timeout")
    head = (
        b"POST /v1/models/churn/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 1000\r\n\r\n"
    )
    t0 = time.perf_counter()
    answer = _exchange(server, head, b'{"tenure": ')
    assert _status(answer) == 408
    assert BODY_TIMEOUT - 0.1 < time.perf_counter() - t0 < BODY_TIMEOUT + 2.0
    assert b'"error"' in answer and b"body" in answer
    assert _refused(server, "body_timeout") == before + 1
    assert httpx.post(f"{server}/v1/models/churn/predict", json=row).status_code == 200


def test_a_kept_alive_connection_left_idle_is_closed_after_the_keep_alive(server, row):
    body = json.dumps(row).encode()
    head = (
        f"POST /v1/models/churn/predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(_address(server), timeout=10) as s:
        s.sendall(head + body)
        received = b""
        while not _complete(received):
            received += s.recv(65536)
        assert received.startswith(b"HTTP/1.1 200"), received[:200]
        answered = time.perf_counter()
        assert s.recv(1) == b""  # closed by the server, not by the 10 s socket timeout
        idle = time.perf_counter() - answered
    assert KEEP_ALIVE - 0.1 <= idle < KEEP_ALIVE + 2, idle


def test_url_length_at_the_limit_passes_and_one_byte_more_is_414(server):
    prefix = "/v2/health/live?pad="
    at_limit = prefix + "a" * (LIMITS.max_url_bytes - len(prefix))
    assert _status(_exchange(server, _get(at_limit))) == 200
    before = _refused(server, "url_too_long")
    answer = _exchange(server, _get(at_limit + "a"))
    assert _status(answer) == 414
    assert str(LIMITS.max_url_bytes).encode() in answer
    assert _refused(server, "url_too_long") == before + 1


def test_a_header_line_at_the_limit_passes_and_one_byte_more_is_431(server):
    name = b"x-pad"
    at_limit = name + b": " + b"v" * (LIMITS.max_header_bytes - len(name))
    assert _status(_exchange(server, _get("/v2/health/live", [at_limit]))) == 200
    before = _refused(server, "header_too_large")
    answer = _exchange(server, _get("/v2/health/live", [at_limit + b"v"]))
    assert _status(answer) == 431
    assert b"x-pad" in answer
    assert _refused(server, "header_too_large") == before + 1


def test_the_header_count_limit_holds_at_the_limit_and_refuses_past_it(server):
    # _get adds host and connection: the request carries exactly max_headers fields, then one more.
    filler = [f"x-h{i}: 1".encode() for i in range(LIMITS.max_headers - 2)]
    assert _status(_exchange(server, _get("/v2/health/live", filler))) == 200
    answer = _exchange(server, _get("/v2/health/live", [*filler, b"x-one-more: 1"]))
    assert _status(answer) == 431
    assert str(LIMITS.max_headers).encode() in answer


def test_a_2_mb_header_line_and_an_oversized_head_are_refused_without_buffering_them(server, row):
    before = _refused(server, "header_too_large")
    huge = _get("/v2/health/live", [b"x-big: " + b"b" * (2 << 20)])
    answer = _exchange(server, huge)
    assert _status(answer) in (431, 0)  # 0: the server closed before we finished sending (reset)
    line = LIMITS.max_header_bytes - 10
    many = [f"x-h{i:02d}: ".encode() + b"c" * line for i in range(LIMITS.max_head_bytes // line + 1)]
    answer = _exchange(server, _get("/v2/health/live", many))  # each line allowed, the head too large
    assert _status(answer) == 431 and b"head is larger" in answer, answer[-300:]
    assert _refused(server, "header_too_large") == before + 2
    assert httpx.post(f"{server}/v1/models/churn/predict", json=row).status_code == 200


def test_a_malformed_request_line_is_a_400_counted_as_bad_request(server):
    before = _refused(server, "bad_request")
    assert _status(_exchange(server, b"NOT HTTP AT ALL\r\n\r\n")) == 400
    assert _refused(server, "bad_request") == before + 1
