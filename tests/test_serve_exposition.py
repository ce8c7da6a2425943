"""/metrics says the same with one worker or several: the same series (names and labels), so that rules
and dashboards written against one hold for the other. Real servers: one process, and two workers
sharing prometheus_client's multiprocess files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
import httpx2 as httpx

from serve_process import start_server


def _series_after_one_request(model: Path, rows: list[dict[str, object]], *options: str) -> set[str]:
    process, base = start_server([str(model), *options, "--prediction-log", "none", "--labels", "none"])
    try:
        assert httpx.post(f"{base}/v1/models/churn/predict", json=rows, timeout=10).status_code == 200
        text = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_one_worker_and_two_export_the_same_series(tmp_path: Path, telco_model, telco_table) -> None:
    model = telco_model.save(tmp_path / "churn.odl")
    rows = telco_table.slice(0, 5).drop(["churn"]).to_pylist()
    one = _series_after_one_request(model, rows)
    two = _series_after_one_request(model, rows, "--workers", "2")
    assert not [s for s in one if re.match(r"\w+_created\b", s)], "_created series exist only in one process"
    assert one == two, (sorted(one - two)[:10], sorted(two - one)[:10])
