"""Load shedding, for real: 40 clients keep sending 200-row requests to a server admitting 4 at a
time (10x its limit) for 5 seconds. Every answer is a 200 or a 503 with Retry-After (nothing else,
no connection error), requests keep being admitted and answered throughout, /metrics and liveness
answer under the overload, and within 2 s of the load stopping 100 requests in a row succeed.

Latency under overload is measured, not asserted here (timings belong to benchmarks): the admitted
requests' p99 against the unloaded p99 is printed with ``-s``, and docs/operations.md quotes it."""

from __future__ import annotations

import collections
import threading
import time

import httpx2 as httpx
import numpy as np
import pytest

from serve_process import start_server

CLIENTS = 40
LIMIT = 4


@pytest.fixture(scope="module")
def server(telco_model_file):
    process, base = start_server(
        [str(telco_model_file), "--max-in-flight", str(LIMIT), "--prediction-log", "none", "--labels", "none"]
    )
    yield base
    process.terminate()
    process.wait(30)


def _timed(client: httpx.Client, url: str, rows: list) -> tuple[int, float, str | None, float]:
    """Status, seconds at the client, Retry-After, and seconds in the server (its Server-Timing)."""
    started = time.perf_counter()
    answer = client.post(url, json=rows)
    server = float(answer.headers.get("server-timing", "app;dur=nan").split("dur=")[1]) / 1000
    return answer.status_code, time.perf_counter() - started, answer.headers.get("retry-after"), server


def test_ten_times_the_limit_is_shed_with_503_and_the_server_recovers_at_once(server, telco_table):
    rows = telco_table.drop(["churn"]).slice(0, 200).to_pylist()
    url = f"{server}/v1/models/churn/predict"
    with httpx.Client(timeout=30) as client:
        unloaded = [_timed(client, url, rows) for _ in range(100)]
    assert {status for status, *_ in unloaded} == {200}

    stop = threading.Event()
    answers: list[tuple[int, float, str | None, float]] = []
    errors: list[BaseException] = []

    def crowd() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    answers.append(_timed(client, url, rows))
                except httpx.TransportError as exc:
                    errors.append(exc)

    threads = [threading.Thread(target=crowd) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    with httpx.Client(timeout=10) as probe:  # observable while shedding
        for _ in range(5):
            assert probe.get(f"{server}/metrics").status_code == 200
            assert probe.get(f"{server}/v2/health/live").status_code == 200
    time.sleep(4)
    stop.set()
    for thread in threads:
        thread.join(30)
    stopped = time.perf_counter()

    assert not errors, errors[:3]
    statuses = collections.Counter(status for status, *_ in answers)
    assert set(statuses) <= {200, 503}, statuses
    # Admitted, and shed. Clients that retry at once get their 503s held (protocol._hold_for), so
    # they come back less often: fewer refusals than admissions, where without the hold most were.
    assert statuses[200] > 100 and statuses[503] > 0, statuses
    assert all(retry == "1" for status, _, retry, _ in answers if status == 503)

    with httpx.Client(timeout=30) as client:
        after = [_timed(client, url, rows) for _ in range(100)]
    assert [status for status, *_ in after] == [200] * 100
    assert time.perf_counter() - stopped < 2 + sum(seconds for _, seconds, *_ in after)

    def p99(values: list[float]) -> float:
        return float(np.percentile(values, 99)) * 1000

    unloaded_ms, unloaded_server = p99([a[1] for a in unloaded]), p99([a[3] for a in unloaded])
    admitted_ms, admitted_server = (p99([a[i] for a in answers if a[0] == 200]) for i in (1, 3))
    print(
        f"\noverload: {dict(statuses)}; p99 at the client {unloaded_ms:.1f} ms unloaded, {admitted_ms:.1f} ms "
        f"admitted ({admitted_ms / unloaded_ms:.1f}x; {CLIENTS} client threads share 2 cores with the server); "
        f"p99 in the server {unloaded_server:.1f} ms unloaded, {admitted_server:.1f} ms admitted "
        f"({admitted_server / unloaded_server:.1f}x)"
    )
