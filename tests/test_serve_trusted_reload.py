"""A server started with trusted keys never swaps in an unsigned model: not on /admin/reload, not on
SIGHUP, not when a registry alias moves (issue 19's first finding: reload used to load without the keys)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
pytest.importorskip("cryptography", reason="signing needs the cryptography package")
from fastapi.testclient import TestClient

import oddsline
from oddsline.serve import Settings, create_app
from oddsline.serve.models import load_served
from oddsline.signing import generate_keys, sign_file


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    private, public = generate_keys(tmp_path_factory.mktemp("keys") / "release")
    return private, public


@pytest.fixture(scope="module")
def unsigned_retrained(telco_table, tmp_path_factory):
    return oddsline.train(telco_table, target="churn", positive="Yes", C=0.05).save(
        tmp_path_factory.mktemp("unsigned") / "retrained.odl"
    )


def _signed_copy(telco_model, folder, private):
    path = telco_model.save(folder / "live.odl")
    sign_file(path, private)
    return path


def test_admin_reload_refuses_an_unsigned_file(telco_model, unsigned_retrained, keys, tmp_path):
    private, public = keys
    path = _signed_copy(telco_model, tmp_path, private)
    settings = Settings(admin_token="t", trusted_keys=(str(public),), watch_seconds=0, drift_seconds=0)
    with TestClient(create_app([load_served(str(path), [str(public)])], settings)) as client:
        before = client.get("/v1/models/live").json()["version"]
        path.write_bytes(unsigned_retrained.read_bytes())
        outcome = client.post("/admin/reload", headers={"authorization": "Bearer t"}).json()["live"]
        assert not outcome["reloaded"] and "sign" in outcome["error"].lower()
        assert client.get("/v1/models/live").json()["version"] == before
        # A file signed by the trusted key is taken.
        sign_file(path, private)
        assert client.post("/admin/reload", headers={"authorization": "Bearer t"}).json()["live"]["reloaded"]


def test_sighup_refuses_an_unsigned_file(telco_model, unsigned_retrained, keys, tmp_path):
    """Through a real `oddsline serve` process: the SIGHUP handler lives on the server's event loop."""
    private, public = keys
    path = _signed_copy(telco_model, tmp_path, private)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "ODDSLINE_DEBUG"}
    command = [sys.executable, "-m", "oddsline", "serve", str(path), "--port", str(port), "--trust-key", str(public)]
    command += ["--prediction-log", "none", "--labels", "none", "--watch-seconds", "0"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        version = _version(port)
        path.write_bytes(unsigned_retrained.read_bytes())
        server.send_signal(signal.SIGHUP)
        time.sleep(2.0)  # the reload runs on the loop at once; give it ample time to (wrongly) swap
        assert server.poll() is None and _version(port) == version  # still the signed one
        sign_file(path, private)
        server.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while _version(port) == version and time.time() < deadline:
            time.sleep(0.2)
        assert _version(port) != version  # a signed file is taken on SIGHUP
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_sighup_with_two_workers_reloads_in_each_worker_and_refuses_an_unsigned_file(
    telco_model, unsigned_retrained, keys, tmp_path
):
    """uvicorn alone answers SIGHUP by replacing its workers, which records no reload and loads the
    new file as a start does. The server's supervisor forwards it: each worker reloads, verifying."""
    import re

    import httpx2 as httpx

    from serve_process import start_server

    private, public = keys
    path = _signed_copy(telco_model, tmp_path, private)
    options = ["--workers", "2", "--trust-key", str(public), "--prediction-log", "none", "--labels", "none"]
    process, base = start_server([str(path), *options, "--watch-seconds", "0", "--drift-seconds", "0"])

    def loads(outcome: str) -> float:
        text = httpx.get(f"{base}/metrics").text
        found = re.search(rf'oddsline_model_loads_total{{model="live",outcome="{outcome}"}} (\S+)', text)
        return float(found.group(1)) if found else 0.0

    def versions() -> set[str]:  # what 40 requests, spread over both workers, were answered by
        return {httpx.get(f"{base}/v1/models/live").json()["version"] for _ in range(40)}

    try:
        before = versions()
        assert len(before) == 1 and loads("loaded") == 0
        path.write_bytes(unsigned_retrained.read_bytes())
        process.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while loads("rejected") < 2 and time.time() < deadline:
            time.sleep(0.2)
        assert loads("rejected") == 2 and versions() == before  # both refused it; the signed one serves on
        sign_file(path, private)
        process.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while loads("loaded") < 2 and time.time() < deadline:
            time.sleep(0.2)
        assert loads("loaded") == 2
        after = versions()
        assert len(after) == 1 and after != before  # both workers serve the new version
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_admin_reload_with_two_workers_reloads_both(telco_model, unsigned_retrained, tmp_path):
    """/admin/reload reaches one worker; it used to reload only that one and answer "reloaded", leaving
    the other serving the old version (requests split between the two). It now asks the supervisor to
    reload the others, and skips the SIGHUP that comes back to it."""
    import re

    import httpx2 as httpx

    from serve_process import start_server

    path = telco_model.save(tmp_path / "live.odl")
    options = ["--workers", "2", "--prediction-log", "none", "--labels", "none", "--watch-seconds", "0"]
    process, base = start_server([str(path), *options, "--drift-seconds", "0"], {"ODDSLINE_ADMIN_TOKEN": "s3cret"})

    def loads() -> float:
        found = re.search(
            r'oddsline_model_loads_total{model="live",outcome="loaded"} (\S+)', httpx.get(f"{base}/metrics").text
        )
        return float(found.group(1)) if found else 0.0

    def versions() -> set[str]:  # what 40 requests, each on a new connection, were answered by
        return {httpx.get(f"{base}/v1/models/live").json()["version"] for _ in range(40)}

    try:
        before = versions()
        path.write_bytes(unsigned_retrained.read_bytes())
        answer = httpx.post(f"{base}/admin/reload", headers={"Authorization": "Bearer s3cret"})
        assert answer.status_code == 200 and answer.json()["live"]["reloaded"]
        deadline = time.time() + 20
        while loads() < 2 and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # a second reload in the asking worker would show here
        assert loads() == 2  # once in each worker
        after = versions()
        assert len(after) == 1 and after != before
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_a_moved_alias_to_an_unsigned_version_is_refused(telco_model, unsigned_retrained, keys, tmp_path, monkeypatch):
    from oddsline.registry import Registry

    private, public = keys
    monkeypatch.setenv("ODDSLINE_HOME", str(tmp_path / "home"))
    signed = _signed_copy(telco_model, tmp_path, private)
    with Registry() as registry:
        registry.register("churn", signed)
        registry.register("churn", unsigned_retrained)
        registry.set_alias("churn", "champion", 1)
    settings = Settings(trusted_keys=(str(public),), watch_seconds=0.2, drift_seconds=0)
    with TestClient(create_app([load_served("churn@champion", [str(public)])], settings)) as client:
        assert client.get("/v1/models/churn").json()["version"] == "1"
        with Registry() as registry:
            registry.set_alias("churn", "champion", 2)
        deadline = time.time() + 5
        while 'outcome="rejected"' not in client.get("/metrics").text and time.time() < deadline:
            time.sleep(0.1)
        assert 'outcome="rejected"' in client.get("/metrics").text
        assert client.get("/v1/models/churn").json()["version"] == "1"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _version(port: int) -> str:
    import json
    import urllib.request

    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models/live", timeout=2) as response:
                return str(json.loads(response.read())["version"])
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
