"""``oddsline serve`` started as a user starts it: a real process on a free loopback port, ready when
its readiness probe answers 200. Its stderr is read as it comes (``output``): a pipe nobody reads
fills at 64 KiB, and a server logging more than that then blocks in its next write, which once made
a fuzzing test look like a hung server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any, NamedTuple

import httpx2 as httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """The server process and its base URL; fails the test with its stderr if it does not come up."""
    process, base = spawn_server(args, env)
    wait_ready(process, base)
    return process, base


def spawn_server(
    args: list[str], env: dict[str, str] | None = None, own_group: bool = False
) -> tuple[subprocess.Popen[bytes], str]:
    """The server process, started and not yet ready (several start side by side), and its base URL.
    ``own_group``: in a process group of its own, so that the test can kill it with its workers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "oddsline", "serve", *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        start_new_session=own_group,
    )
    lines: list[str] = []
    _outputs[process.pid] = lines
    threading.Thread(target=_drain, args=(process.stderr, lines), daemon=True).start()
    return process, f"http://127.0.0.1:{port}"


_outputs: dict[int, list[str]] = {}


def output(process: subprocess.Popen[bytes]) -> str:
    """What the server wrote to stderr so far."""
    return "".join(_outputs.get(process.pid, []))


def _drain(pipe: Any, lines: list[str]) -> None:
    with pipe:
        for line in pipe:
            lines.append(line.decode("utf-8", "replace"))


def wait_ready(process: subprocess.Popen[bytes], base: str, seconds: float = 60) -> None:
    """Returns once the readiness probe answers 200; fails the test with the server's stderr if it exits."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            process.wait()
            time.sleep(0.2)  # the last lines reach the reader
            pytest.fail(output(process))
        try:
            if httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"the server did not become ready within {seconds:g} s")


class Outcome(NamedTuple):
    time: float
    status: int | str  # the HTTP status, or the name of the transport error
    version: str | None = None
    request_id: str | None = None
    probability: float | None = None
    row: int = -1  # which of the load's rows was sent


class Load:
    """Threads posting single rows to ``path`` on keep-alive connections until stopped; every outcome
    recorded with its time (a context manager: the threads run inside the ``with``)."""

    def __init__(self, base: str, rows: list[dict], threads: int = 4, path: str = "/v1/models/churn/predict") -> None:
        self.base, self.rows, self.path = base, rows, path
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(threads)]

    def _run(self, k: int) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            i = k
            while not self.stop.is_set():
                i += 1
                row = i % len(self.rows)
                try:
                    response = client.post(self.path, json=self.rows[row])
                    outcome = Outcome(time.time(), response.status_code, row=row)
                    if response.status_code == 200:
                        body = response.json()
                        probability = body["predictions"][0]["probability"]
                        outcome = outcome._replace(
                            version=body["version"], request_id=body["request_id"], probability=probability
                        )
                except httpx.TransportError as exc:
                    outcome = Outcome(time.time(), type(exc).__name__, row=row)
                    time.sleep(0.01)
                with self.lock:
                    self.outcomes.append(outcome)

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def workers(pid: int) -> list:
    """The worker processes of a server (not multiprocessing's resource tracker, also a child)."""
    import psutil

    found = []
    for child in psutil.Process(pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # gone meanwhile (a killed worker being reaped)
            continue
    return found
