"""10,000 malformed requests over raw sockets at a live `oddsline serve --workers 2`: mutations (bytes
flipped, spans cut or doubled, hostile tokens inserted, truncation, broken methods and versions,
lying or fixed Content-Length, chunked bodies) of valid requests on every route. Each is sent on its
own connection, which the client then half-closes; the answer must be a well-formed HTTP response
that is not a 5xx, or no answer at all (the server closed the connection). Afterwards the server is
alive, ready, scores a valid row, and its metrics count no 500.

The mutations are drawn from a seeded generator: a failure names its case number, and
``ODDSLINE_FUZZ_SEED``/``ODDSLINE_FUZZ_CASES`` run other or more cases."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import re
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest

from serve_process import start_server

CASES = int(os.environ.get("ODDSLINE_FUZZ_CASES", "10000"))
SEED = int(os.environ.get("ODDSLINE_FUZZ_SEED", "20261206"))

TOKENS = [
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"\x00",
    b"\xff\xfe",
    b"\xc3\x28",
    b'"',
    b"{",
    b"[",
    b"]",
    b"}",
    b",",
    b":",
    b"9" * 400,
    b"-1e309",
    b"1e400",
    b"NaN",
    b"Infinity",
    b"true",
    b"null",
    b"[]",
    b"{}",
    b'"tenure": true, ',
    b'"tenure": 1, "tenure": 2, ',
    b"\\u0000",
    b"\\ud800",
    b"Content-Length: 999999\r\n",
    b"Content-Length: -1\r\n",
    b"Content-Length: 5\r\nContent-Length: 7\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Type: text/csv\r\n",
    b"Expect: 100-continue\r\n",
    b"X-Request-Id: " + b"a" * 300 + b"\r\n",
    b" ",
    b"\t",
    "é€".encode(),
    b"%00",
    b"/../../etc/passwd",
    b"?explain=true",
    b"?explain=maybe",
]


def _seeds(row: dict, model: str) -> list[bytes]:
    def post(path: str, body: bytes, content_type: str = "application/json") -> bytes:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: fuzz\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def get(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: fuzz\r\n\r\n".encode()

    one = json.dumps(row).encode()
    oip = {
        "inputs": [
            {"name": k, "shape": [1], "datatype": "BYTES" if isinstance(v, str) else "FP64", "data": [v]}
            for k, v in row.items()
        ]
    }
    chunked = (
        (
            f"POST /v1/models/{model}/predict HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        + b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (one[:40], one[40:]))
        + b"0\r\n\r\n"
    )
    csv_body = (",".join(row) + "\n" + ",".join("" if v is None else str(v) for v in row.values()) + "\n").encode()
    return [
        post(f"/v1/models/{model}/predict", one),
        post(f"/v1/models/{model}/predict", json.dumps({"rows": [row, row, row]}).encode()),
        post(
            "/invocations",
            json.dumps({"dataframe_split": {"columns": list(row), "data": [list(row.values())]}}).encode(),
        ),
        post("/invocations", csv_body, "text/csv"),
        post(f"/v2/models/{model}/infer", json.dumps(oip).encode()),
        post("/v1/labels", b'{"labels": [{"id": "x", "label": "Yes"}]}'),
        post("/admin/reload", b""),
        chunked,
        get("/metrics"),
        get("/v2/health/ready"),
        get(f"/v2/models/{model}"),
        get("/v1/models"),
        get("/openapi.json"),
    ]


def _mutate(request: bytes, rng: random.Random) -> bytes:
    data = bytearray(request)
    body_at = request.find(b"\r\n\r\n") + 4
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(8)
        # Mostly in the body, where a mutation reaches the JSON and CSV readers and the scorers; a head
        # broken anywhere is refused by the HTTP layer before the app sees it.
        in_body = 4 <= body_at < len(data) and rng.random() < 0.7
        at = rng.randrange(body_at, len(data) + 1) if in_body else rng.randrange(len(data) + 1)
        if kind == 0 and data:  # bytes flipped
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:  # a span cut
            del data[at : at + rng.randint(1, 40)]
        elif kind == 2:  # a span doubled
            data[at:at] = data[at : at + rng.randint(1, 40)]
        elif kind in (3, 4):  # a hostile token
            data[at:at] = rng.choice(TOKENS)
        elif kind == 5:  # truncated
            del data[at:]
        elif kind == 6 and not in_body:  # another method
            data = bytearray(
                re.sub(
                    rb"^\S*", rng.choice([b"PUT", b"DELETE", b"BREW", b"", b"GET", b"P\x00ST"]), bytes(data), count=1
                )
            )
        elif not in_body:  # another version
            data = bytearray(
                bytes(data).replace(b"HTTP/1.1", rng.choice([b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9", b"HTTX/1.1", b""]), 1)
            )
    out = bytes(data)
    if rng.random() < 0.8:  # a Content-Length that matches the mutated body: the body reaches the app
        head, sep, body = out.partition(b"\r\n\r\n")
        if sep and b"Content-Length:" in head and b"chunked" not in head:
            out = re.sub(rb"Content-Length: *-?\d*", b"Content-Length: %d" % len(body), head, count=1) + sep + body
    return out


def _exchange(port: int, request: bytes) -> bytes:
    """Send ``request``; give the server a quarter second to answer what it has, then tell it no more
    is coming (half-close) and read whatever it sends until it closes. Half-closing at once would be
    read by the server as a client gone before its answer, and the request never reach the app."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(request)
        except OSError:
            return b""  # the server closed first (it refused the head)
        chunks = []
        s.settimeout(0.25)
        try:
            first = s.recv(65536)
            if not first:
                return b""
            chunks.append(first)
        except TimeoutError:
            pass  # the server waits for more bytes
        except ConnectionResetError:
            return b""
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture(scope="module")
def server(telco_model_file):
    quiet = ["--prediction-log", "none", "--labels", "none"]
    process, base = start_server(
        [str(telco_model_file), "--workers", "2", *quiet, "--header-timeout", "2", "--body-timeout", "2"]
    )
    yield process, base
    process.terminate()
    process.wait(30)


def test_ten_thousand_malformed_requests_get_no_5xx_and_the_server_serves_on(server, telco_table):
    process, base = server
    port = int(base.rsplit(":", 1)[1])
    row = telco_table.drop(["churn"]).slice(0, 1).to_pylist()[0]
    seeds = _seeds(row, "churn")
    rng = random.Random(SEED)
    cases = [_mutate(rng.choice(seeds), rng) for _ in range(CASES)]
    statuses: collections.Counter[str] = collections.Counter()
    failures: list[str] = []

    def one(case: int) -> None:
        answer = _exchange(port, cases[case])
        if not answer:
            statuses["closed"] += 1
            return
        match = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
        if match is None:
            failures.append(f"case {case}: not an HTTP response: {answer[:80]!r} to {cases[case][:200]!r}")
            return
        status = match.group(1).decode()
        statuses[status] += 1
        if status.startswith("5"):
            failures.append(f"case {case}: {status} to {cases[case][:300]!r}: {answer[-300:]!r}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(CASES)))
    assert not failures, f"{len(failures)} of {CASES}:\n" + "\n".join(failures[:10])
    assert sum(statuses.values()) == CASES and statuses["200"] > 100 and statuses["422"] > 100, statuses
    assert process.poll() is None
    assert httpx.get(f"{base}/v2/health/ready", timeout=5).status_code == 200
    assert httpx.post(f"{base}/v1/models/churn/predict", json=row, timeout=5).status_code == 200
    errors = [
        line
        for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines()
        if line.startswith("oddsline_requests_total{") and 'status="500"' in line and not line.endswith(" 0.0")
    ]
    assert not errors, errors
