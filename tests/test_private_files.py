"""What the registry and the service keep for themselves is readable by its owner only, whatever the
umask: the registry's folder, database and stored models (signed artefacts), the prediction log with
its PII salt, and the label store (0700 folders, 0600 files). Files a user asks for with --out follow
the umask instead (tested with the CLI's outputs)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import oddsline
from oddsline.registry import Registry


@pytest.fixture
def open_umask():
    previous = os.umask(0o022)  # the usual default: 0644 files, 0755 folders
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_registry_keeps_its_folder_database_and_models_private(telco_model_file, tmp_path, open_umask):
    home = tmp_path / "home"
    with Registry(home=home) as registry:
        registry.register("churn", telco_model_file)
    assert _mode(home) == 0o700
    assert _mode(home / "registry.db") == 0o600
    for folder in [home / "store", *(p for p in (home / "store").rglob("*") if p.is_dir())]:
        assert _mode(folder) == 0o700, folder
    stored = list((home / "store").rglob("*.odl"))
    assert stored and all(_mode(p) == 0o600 for p in stored)
    for sidecar in home.glob("registry.db-*"):  # SQLite's -wal and -shm take the database's mode
        assert _mode(sidecar) == 0o600, sidecar


def test_the_prediction_log_and_label_store_are_private(telco_model_file, telco_table, tmp_path, open_umask):
    pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
    from fastapi.testclient import TestClient

    from oddsline.serve import Settings, create_app
    from oddsline.serve.models import load_served

    log, labels = tmp_path / "log", tmp_path / "labels"
    settings = Settings(prediction_log=str(log), labels_folder=str(labels), pii_columns=("tenure",))
    rows = telco_table.drop(["churn"]).slice(0, 3).to_pylist()
    with TestClient(create_app([load_served(str(telco_model_file))], settings)) as client:
        answer = client.post("/v1/models/churn/predict", json=rows).json()
        client.post("/v1/labels", json={"labels": [{"id": answer["request_id"] + ":0", "label": "Yes"}]})
    assert _mode(log) == 0o700 and _mode(labels) == 0o700
    assert _mode(log / ".salt") == 0o600
    written = [*log.glob("*.parquet"), *labels.glob("*.parquet")]
    assert len(written) >= 2 and all(_mode(p) == 0o600 for p in written)


def test_files_asked_for_with_out_follow_the_umask(telco_table, tmp_path, open_umask):
    path = oddsline.train(telco_table, target="churn", positive="Yes").save(tmp_path / "mine.odl")
    assert _mode(path) == 0o644


def test_a_served_process_keeps_its_shared_rows_metrics_and_journal_private(
    telco_model_file, telco_table, tmp_path, open_umask
):
    """`oddsline serve --workers 2` under umask 022: the metrics folder the workers share (0700), the
    recent input rows they pool there for drift (0600: rows may hold PII), and the prediction log's
    journal and files (0600)."""
    pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
    import time

    import httpx2 as httpx

    from serve_process import start_server, workers

    log = tmp_path / "log"
    options = ["--workers", "2", "--prediction-log", str(log), "--labels", "none"]
    process, base = start_server([str(telco_model_file), *options, "--drift-seconds", "1", "--drift-min-rows", "20"])
    rows = telco_table.drop(["churn"]).slice(0, 10).to_pylist()
    try:
        shared = Path(workers(process.pid)[0].environ()["PROMETHEUS_MULTIPROC_DIR"])
        journals: set[int] = set()
        deadline = time.time() + 20
        while time.time() < deadline and not (list(shared.glob("drift-rows/*.arrow")) and journals):
            httpx.post(f"{base}/v1/models/churn/predict", json=rows)
            journals |= {_mode(p) for p in log.glob("journal-*")}
            time.sleep(0.05)
        pooled = list(shared.glob("drift-rows/*.arrow"))
        assert pooled, "no worker pooled its rows: the test proves nothing"
        assert _mode(shared) == 0o700 and _mode(shared / "drift-rows") == 0o700
        assert {_mode(p) for p in pooled} == {0o600}
        assert journals == {0o600}, journals
    finally:
        process.terminate()
        process.wait(timeout=30)
    written = list(log.glob("*.parquet"))
    assert written and {_mode(p) for p in written} == {0o600}
