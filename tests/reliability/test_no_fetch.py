"""No route fetches a URL or opens a path given in a request. Every documented route of a real server
gets a URL of a listener on loopback, a ``file://`` URL and the path of a named pipe, in every place a
client controls: path parameters, the query, every body field and value, and headers. Afterwards the
listener has had no connection, and the pipe was never opened: opening a FIFO for writing without
blocking fails (ENXIO) unless a reader has it open, and a server that had opened it to read would
still be blocked in that open."""

from __future__ import annotations

import errno
import json
import os
import socket
import threading
import urllib.parse
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
import httpx2 as httpx

from serve_process import start_server


class _Listener:
    """A TCP listener on loopback that counts the connections it is offered."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        """Stop, counting the connections still waiting to be accepted."""
        self.stopped = True
        self.thread.join(timeout=5)
        self.socket.setblocking(False)
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                break
            self.connections += 1
            connection.close()
        self.socket.close()


def _fifo_was_opened(fifo: Path) -> bool:
    try:
        descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        assert exc.errno == errno.ENXIO, exc
        return False
    os.close(descriptor)
    return True


def test_no_route_fetches_a_url_or_opens_a_path_from_a_request(telco_model_file, telco_table, tmp_path):
    listener = _Listener()
    fifo = tmp_path / "canary"
    os.mkfifo(fifo)
    hostile = [f"http://127.0.0.1:{listener.port}/x", f"file://{fifo}", str(fifo), f"../../..{fifo}"]
    token = "s3cret"
    process, base = start_server(
        [str(telco_model_file), "--prediction-log", str(tmp_path / "log"), "--labels", str(tmp_path / "labels")],
        {"ODDSLINE_ADMIN_TOKEN": token},
    )
    columns = [c for c in telco_table.column_names if c != "churn"]
    sent = 0
    try:
        document = httpx.get(f"{base}/openapi.json").json()
        for value in hostile:
            quoted = urllib.parse.quote(value, safe="")
            headers = {
                "x-request-id": value,
                "referer": value,
                "forwarded": f"for=127.0.0.1;host={value}",
                "authorization": f"Bearer {token}",
            }
            row = dict.fromkeys(columns, value)
            bodies = {
                "/v1/labels": {"labels": [{"id": value, "label": value, "time": value}]},
                "/invocations": {"dataframe_records": [row]},
                "/admin/reload": {"model": value, "path": value, "url": value},
            }
            for path, operations in document["paths"].items():
                for method in operations:
                    url = base + path.replace("{name}", quoted).replace("{version}", quoted)
                    named = base + path.replace("{name}", "churn").replace("{version}", quoted)
                    if path.endswith("/infer"):
                        body: object = {
                            "inputs": [{"name": c, "datatype": "BYTES", "shape": [1], "data": [value]} for c in columns]
                        }
                    else:
                        body = bodies.get(path, [row, {"model": value, "url": value}])
                    for target in {url, named}:
                        response = httpx.request(
                            method.upper(),
                            target,
                            params={"explain": value, "model": value, "url": value},
                            headers=headers,
                            content=json.dumps(body) if method == "post" else None,
                            timeout=10,
                        )
                        assert response.status_code < 500, (method, target, response.text[:200])
                        sent += 1
        assert httpx.get(f"{base}/v2/health/ready", timeout=5).status_code == 200  # not blocked in an open
    finally:
        listener.close()
        fifo_opened = _fifo_was_opened(fifo)
        process.terminate()
        process.wait(timeout=30)
    print(f"\n{sent} requests with URLs and paths in every field; connections to the listener: {listener.connections}")
    assert sent > 100
    assert listener.connections == 0, "a route fetched a URL given in a request"
    assert not fifo_opened, "a route opened a path given in a request"


def test_the_detectors_see_a_fetch_and_an_open(tmp_path):
    """The positive control: a connection to the listener is counted, a reader of the pipe is seen."""
    listener = _Listener()
    socket.create_connection(("127.0.0.1", listener.port), timeout=5).close()
    fifo = tmp_path / "canary"
    os.mkfifo(fifo)
    reader = threading.Thread(target=lambda: os.close(os.open(fifo, os.O_RDONLY)), daemon=True)
    reader.start()
    pause = threading.Event()
    opened = False
    for _ in range(50):  # the reader thread blocks in open() once it runs
        opened = _fifo_was_opened(fifo)
        if opened:
            break
        pause.wait(0.05)
    reader.join(timeout=5)
    listener.close()
    assert listener.connections == 1 and opened
