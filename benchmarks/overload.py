"""Admitted latency under overload (issue 19): a server admitting 4 requests at a time, offered about
10x what it admits, with the load generator on the other core.

    cd benchmarks && ../.venv/bin/python overload.py [--seconds 10] [--repeats 3] [--connections 40]
                                                     [--shed-delays 0,0.05]

Needs wrk (Debian: ``apt-get install wrk``) and 2 cores. ``oddsline serve`` (one worker,
``--max-in-flight 4``, no prediction log) is pinned to core 0; wrk (the crowd: 200-row POSTs back to
back on ``--connections`` connections) and this script's probe are pinned to core 1, so that the
clients do not take the server's CPU. The probe sends the same 200-row request, first alone on one
connection (unloaded), then on 4 connections while the crowd runs (its own CPU on core 1, beside
wrk, is in its timings); only its admitted answers (200) are timed. Printed: the
probe's p50/p99 at the client and in the server (its Server-Timing), unloaded and under overload,
and their ratio; the crowd's rate and share shed (503).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from harness import machine, versions
from serve import free_port, run_wrk, start

ROOT = Path(__file__).resolve().parents[1]
TELCO = ROOT / "examples" / "data" / "telco_churn.csv"
LIMIT = 4
PROBES = 4  # the probe's connections under overload: more admitted answers to time


def crowd(url: str, body: str, seconds: float, connections: int) -> dict[str, float]:
    """wrk on core 1 for ``seconds``: its request rate and the share of 503s."""
    out = run_wrk(url, body, ["-t1", f"-c{connections}", f"-d{seconds:g}s"], prefix=("taskset", "-c", "1"))
    total = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    shed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rate": total / seconds, "shed": (float(shed.group(1)) if shed else 0.0) / max(total, 1.0)}


async def _probe_connection(
    host: str, port: int, request: bytes, until: float, count: int, timings: list[tuple[float, float]]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while len(timings) < count and time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            headers = dict(line.split(b": ", 1) for line in head.lower().split(b"\r\n")[1:] if b": " in line)
            await reader.readexactly(int(headers[b"content-length"]))
            elapsed = time.perf_counter() - started
            if head.startswith(b"HTTP/1.1 200"):
                timings.append((elapsed, float(headers[b"server-timing"].split(b"dur=")[1]) / 1000))
            if headers.get(b"connection") == b"close":
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


def probe(url: str, body: str, until: float, count: int, connections: int) -> list[tuple[float, float]]:
    """(seconds at the client, seconds in the server) of admitted answers on ``connections``
    connections, each sending the next request when its answer arrives; refused answers (503) are
    not timed."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    path = "/" + url.removeprefix("http://").split("/", 1)[1]
    data = body.encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data
    timings: list[tuple[float, float]] = []

    async def run() -> None:
        await asyncio.gather(
            *(_probe_connection(host, int(port), request, until, count, timings) for _ in range(connections))
        )

    asyncio.run(run())
    return timings


def percentiles(timings: list[tuple[float, float]]) -> dict[str, float]:
    client = np.array([t[0] for t in timings]) * 1000
    server = np.array([t[1] for t in timings]) * 1000
    return {
        "n": float(len(timings)),
        "client_p50": float(np.percentile(client, 50)),
        "client_p99": float(np.percentile(client, 99)),
        "server_p50": float(np.percentile(server, 50)),
        "server_p99": float(np.percentile(server, 99)),
    }


def one_round(url: str, body: str, seconds: float, connections: int) -> dict[str, float]:
    probe(url, body, time.perf_counter() + 2, 50, 1)  # warm
    unloaded = percentiles(probe(url, body, time.perf_counter() + 30, 1000, 1))
    result: dict[str, float] = {}
    thread = threading.Thread(target=lambda: result.update(crowd(url, body, seconds, connections)))
    thread.start()
    time.sleep(1.0)  # the crowd at full strength
    loaded = percentiles(probe(url, body, time.perf_counter() + seconds - 2, 10**9, PROBES))
    thread.join()
    return {
        **{f"unloaded_{k}": v for k, v in unloaded.items()},
        **{f"overload_{k}": v for k, v in loaded.items()},
        **{f"crowd_{k}": v for k, v in result.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", type=int, default=40)
    parser.add_argument(
        "--shed-delays",
        type=lambda text: [float(v) for v in text.split(",")],
        default=[0.0, 0.05],
        help="the servers' --shed-delay values, each measured in every round (default 0,0.05)",
    )
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs 2 cores: the server on one, the load on the other")
    os.sched_setaffinity(0, {1})
    oddsline = str(Path(sys.executable).with_name("oddsline"))
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "churn.odl"
        subprocess.run(
            [oddsline, "train", str(TELCO), "--target", "churn", "--positive", "Yes", "--out", str(model)],
            check=True,
            capture_output=True,
        )
        rows = [{k: v for k, v in r.items() if k != "churn"} for r in _rows(200)]
        body = json.dumps(rows)
        rounds: dict[float, list[dict[str, float]]] = {delay: [] for delay in args.shed_delays}
        for _ in range(args.repeats):
            for delay in args.shed_delays:  # interleaved: the machine's noise falls on each alike
                port = free_port()
                url = f"http://127.0.0.1:{port}/v1/models/churn/predict"
                command = ["taskset", "-c", "0", oddsline, "serve", str(model), "--port", str(port)]
                command += ["--max-in-flight", str(LIMIT), "--prediction-log", "none", "--labels", "none"]
                command += ["--shed-delay", str(delay)]
                server = start(command, port, {}, ("/v1/models/churn/predict", body))
                try:
                    rounds[delay].append(one_round(url, body, args.seconds, args.connections))
                finally:
                    server.terminate()
                    server.wait(30)
    print(f"# admitted latency under overload\nmachine: {machine()}\nversions: {versions('uvicorn', 'fastapi')}")
    print(f"server: 1 worker on core 0, --max-in-flight {LIMIT}; crowd: wrk -c{args.connections} on core 1")
    for delay, results in rounds.items():
        print(f"\n## --shed-delay {delay:g}")
        for key in results[0]:
            values = [r[key] for r in results]
            print(
                f"{key:>22}: median {statistics.median(values):10.2f}   rounds {', '.join(f'{v:.2f}' for v in values)}"
            )
        for where in ("client", "server"):
            ratios = [r[f"overload_{where}_p99"] / r[f"unloaded_{where}_p99"] for r in results]
            print(f"admitted p99 / unloaded p99 ({where}): median {statistics.median(ratios):.1f}x (goal <= 3x)")


def _rows(n: int) -> list[dict[str, object]]:
    import pyarrow.csv as pacsv

    return pacsv.read_csv(TELCO).slice(0, n).to_pylist()


if __name__ == "__main__":
    main()
