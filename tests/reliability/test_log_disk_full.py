"""The prediction log on a disk that fills up, for real: a 1 MiB tmpfs. Writes that fail drop their
rows and count them (the service fails open: logging never blocks or fails a request), no partial
file is ever left, and logging resumes by itself once there is room again. Needs root to mount the
tmpfs (CI runs as root); skipped with the reason otherwise."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from oddsline.serve.prediction_log import PredictionLog, Scored


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    # Lazily: a watcher outside the test (the machine's file-system agent) may hold the mount point a
    # moment longer; it is detached at once and freed when released.
    done = subprocess.run(["umount", "-l", str(mount)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _batch(i: int, n: int = 200) -> Scored:
    rows = [{"tenure": k, "contract": "Month-to-month", "note": "x" * 200} for k in range(n)]
    return Scored(
        f"r{i}",
        time.time_ns() // 1000,
        "churn",
        "1",
        "/v1/models/{name}/predict",
        rows,
        [0.5] * n,
        [0.5] * n,
        [True] * n,
        1.0,
    )


def _fill(disk: Path) -> Path:
    """Write a file on ``disk`` until it is full; the file, to free the room again."""
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def _wait(condition, seconds: float = 20.0) -> None:
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.05)


def test_a_full_disk_drops_and_counts_rows_leaves_no_partial_file_and_logging_resumes(small_disk: Path) -> None:
    outcomes: dict[str, int] = {"written": 0, "dropped": 0}

    def count(outcome: str, n: int) -> None:
        outcomes[outcome] += n

    log = PredictionLog(small_disk / "log", flush_seconds=0.02, max_wait_seconds=0.05, on_rows=count)
    try:
        log.append(_batch(0))
        _wait(lambda: outcomes["written"] == 200)
        assert outcomes == {"written": 200, "dropped": 0}
        filler = _fill(small_disk)  # the disk fills up (something else wrote to it)
        for i in range(1, 6):
            log.append(_batch(i))
        _wait(lambda: outcomes["dropped"] == 1000)
        assert outcomes == {"written": 200, "dropped": 1000}
        assert log._thread.is_alive()  # the writer goes on
        filler.unlink()  # room again
        for i in range(6, 9):
            log.append(_batch(i))
        _wait(lambda: outcomes["written"] == 800)
        assert outcomes == {"written": 800, "dropped": 1000}
    finally:
        log.close()
    files = sorted((small_disk / "log").glob("predictions-*.parquet"))
    assert sum(pq.read_table(f).num_rows for f in files) == 800  # every file whole and readable
    leftovers = [p.name for p in (small_disk / "log").iterdir() if p.name != ".salt" and p not in files]
    assert leftovers == []  # no temporary or partial file


def test_a_server_whose_log_disk_fills_answers_every_request_and_counts_the_dropped_rows(
    small_disk: Path, telco_model_file, telco_table
) -> None:
    """Through ``oddsline serve``: the disk under its prediction log fills while clients post; every
    request is answered 200, the rows that could not be written are counted as dropped, and once
    there is room the next rows are written."""
    pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
    import httpx2 as httpx

    from serve_process import start_server

    rows = telco_table.drop(["churn"]).slice(0, 50).to_pylist()
    process, base = start_server(
        [str(telco_model_file), "--prediction-log", str(small_disk / "log"), "--labels", "none"]
    )

    def logged(outcome: str) -> float:
        text = httpx.get(f"{base}/metrics").text
        found = re.search(rf'^oddsline_prediction_log_rows_total{{outcome="{outcome}"}} (\S+)$', text, re.M)
        return float(found.group(1)) if found else 0.0

    def post(n: int) -> set[int]:
        return {httpx.post(f"{base}/v1/models/churn/predict", json=rows).status_code for _ in range(n)}

    try:
        assert post(4) == {200}
        _wait(lambda: logged("written") >= 200)
        filler = _fill(small_disk)
        assert post(40) == {200}  # the full disk fails no request
        _wait(lambda: logged("dropped") > 0)
        assert logged("dropped") > 0
        written = logged("written")
        filler.unlink()
        assert post(4) == {200}
        _wait(lambda: logged("written") > written)
        assert logged("written") > written, "logging did not resume once there was room"
    finally:
        process.terminate()
        process.wait(timeout=30)
