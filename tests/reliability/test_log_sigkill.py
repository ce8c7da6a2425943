"""The prediction log's promise under kill -9: a server with two workers, scoring and logging, is
killed whole with SIGKILL, then started again on the same folder. Every Parquet file opens, no
prediction id is logged twice, and every prediction answered more than the journal's commit window
before the kill is in the log: the restarted server wrote the killed workers' journals into the files
they were gathering (journal.py)."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx2 as httpx
import pyarrow.parquet as pq

from serve_process import spawn_server, wait_ready

# flush_seconds (0.25) + max_defer_seconds (1.0: under back-to-back load the writer waits for a quiet
# moment, up to that long) and the conversion itself: a row answered longer ago was journaled.
WINDOW_SECONDS = 2.0


def _metric(base: str, line_start: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_kill_9_loses_only_the_commit_window_and_duplicates_nothing(telco_model_file, telco_table, tmp_path):
    log = tmp_path / "log"
    rows = telco_table.drop(["churn"]).slice(0, 20).to_pylist()
    process, base = spawn_server(
        [str(telco_model_file), "--workers", "2", "--prediction-log", str(log), "--labels", "none"], own_group=True
    )
    answered: list[tuple[float, list[str]]] = []  # (when answered, prediction ids)
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.wait(0.01):  # steady traffic with gaps: the writer journals as it goes
                try:
                    answer = client.post(f"{base}/v1/models/churn/predict", json=rows)
                except httpx.TransportError:
                    return  # the server is gone
                if answer.status_code == 200:
                    request_id = answer.json()["request_id"]
                    answered.append((time.time(), [f"{request_id}:{i}" for i in range(len(rows))]))

    try:
        wait_ready(process, base)
        threads = [threading.Thread(target=traffic) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(4)  # longer than the 1 s a journal needs, shorter than the 5 s a file waits for
        killed_at = time.time()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        stop.set()
        for thread in threads:
            thread.join(10)
    finally:
        stop.set()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert len(answered) > 50
    assert list(log.glob("journal-*.arrows")), "nothing was journaled and waiting: the kill tested nothing"

    restarted, base = spawn_server([str(telco_model_file), "--prediction-log", str(log), "--labels", "none"])
    try:
        wait_ready(restarted, base)
        deadline = time.time() + 20
        while list(log.glob("journal-*.arrows")) and time.time() < deadline:
            time.sleep(0.1)
        recovered = _metric(base, 'oddsline_prediction_log_rows_total{outcome="recovered"}')
    finally:
        restarted.terminate()
        restarted.wait(30)
    assert not list(log.glob("journal-*.arrows"))
    assert recovered > 0

    ids: list[str] = []
    for path in sorted(log.glob("predictions-*.parquet")):
        ids += pq.read_table(path, columns=["prediction_id"]).column("prediction_id").to_pylist()
    assert len(ids) == len(set(ids)), "a prediction was logged twice"
    logged = set(ids)
    lost = [(killed_at - when) for when, predicted in answered for p in predicted if p not in logged]
    assert all(age < WINDOW_SECONDS for age in lost), f"lost rows answered up to {max(lost):.2f} s before the kill"
    old_enough = [p for when, predicted in answered if killed_at - when >= WINDOW_SECONDS for p in predicted]
    assert old_enough and set(old_enough) <= logged
