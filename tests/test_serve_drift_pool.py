"""Drift with several workers: measured on the pool of every worker's recent rows (``shared_rows.py``),
so 500 rows suffice for the first series whatever --workers is, and each worker reports the PSI of the
same rows. Checked on a real `oddsline serve --workers 2` against the drift report of the rows sent."""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

import pyarrow as pa
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
import httpx2 as httpx

from oddsline.monitor import drift_report
from oddsline.serve.shared_rows import SharedRows
from serve_process import start_server, workers


def test_the_pool_takes_each_workers_latest_rows_and_leaves_out_a_stopped_one(tmp_path: Path) -> None:
    first, second = SharedRows(tmp_path, interval=1.0), SharedRows(tmp_path, interval=1.0)
    second.pid += 1  # another worker's file
    a = pa.table({"tenure": [float(i) for i in range(10)], "contract": ["One year"] * 10})
    b = pa.table({"tenure": [100.0 + i for i in range(6)], "contract": [None] * 6})  # text only in a
    assert second.pool("churn", b, window=100).num_rows == 6
    pooled = first.pool("churn", a, window=8)  # 4 of each: the latest
    assert sorted(pooled.column("tenure").to_pylist()) == [6.0, 7.0, 8.0, 9.0, 102.0, 103.0, 104.0, 105.0]
    assert pooled.schema.field("contract").type == pa.string()
    assert first.pool("other model", None, window=8) is None
    for path in (tmp_path / "drift-rows").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the rows may hold personal data
    gone = next((tmp_path / "drift-rows").glob(f"*.{second.pid}.arrow"))
    os.utime(gone, (time.time() - 60, time.time() - 60))  # not rewritten for many intervals: its worker stopped
    assert first.pool("churn", a, window=100).num_rows == 10
    first.close()
    assert [p.name for p in (tmp_path / "drift-rows").iterdir()] == [gone.name]


def test_two_workers_measure_drift_on_all_their_rows(tmp_path: Path, telco_model, telco_table) -> None:
    path = telco_model.save(tmp_path / "churn.odl")
    options = ["--workers", "2", "--drift-seconds", "1", "--drift-min-rows", "500", "--prediction-log", "none"]
    process, base = start_server([str(path), *options, "--labels", "none"])
    sent = telco_table.slice(0, 600).drop(["churn"])
    rows = sent.to_pylist()
    try:
        for i in range(0, 600, 10):  # a new connection each: the two workers share the listening socket
            response = httpx.post(f"{base}/v1/models/churn/predict", json=rows[i : i + 10], timeout=10)
            assert response.status_code == 200
        expected = drift_report(telco_model, sent)["columns"]["tenure"]["psi"]

        def measured_on_all(text: str) -> bool:
            # Each worker publishes its own latest measurement and the export keeps the larger: wait
            # until both have measured the whole pool (every second), not one of them a moment early.
            found = re.search(r'oddsline_drift_psi\{column="tenure",model="churn"\} ([0-9.e+-]+)', text)
            whole = 'oddsline_drift_rows{model="churn"} 600.0' in text
            return whole and found is not None and float(found.group(1)) == pytest.approx(expected, rel=1e-9)

        deadline, text = time.time() + 20, ""
        while not measured_on_all(text) and time.time() < deadline:
            time.sleep(0.5)
            text = httpx.get(f"{base}/metrics", timeout=10).text
        folder = Path(workers(process.pid)[0].environ()["PROMETHEUS_MULTIPROC_DIR"]) / "drift-rows"
        pids = {p.name.split(".")[1] for p in folder.glob("*.arrow")}
    finally:
        process.terminate()
        process.wait(timeout=30)
    # Neither worker alone had 500 rows unless one took them all; both wrote theirs.
    assert 'oddsline_drift_rows{model="churn"} 600.0' in text, text[-2000:]
    assert len(pids) == 2
    served = float(re.search(r'oddsline_drift_psi\{column="tenure",model="churn"\} ([0-9.e+-]+)', text).group(1))
    assert served == pytest.approx(expected, rel=1e-9)
