"""The prediction log: every scored row appended, off the request path, to Parquet files.

Requests put their rows on a bounded queue and return; a background thread writes them in batches,
one file per batch (``predictions-<UTC time>-<seq>.parquet`` under the log folder: rotation by
construction, and a reader never sees a half-written file because each is written under a temporary
name and renamed). A full queue drops rows and counts them rather than slow the service. ``close``
drains the queue and writes what is left: after a clean shutdown, logged rows == scored rows.
Columns named as PII are replaced by the SHA-256 of their value (salted per log folder).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import queue
import secrets
import threading
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ..io import atomic_path

__all__ = ["PredictionLog"]

_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("model", pa.string()),
        ("version", pa.string()),
        ("route", pa.string()),
        ("features", pa.string()),  # the row as JSON, PII columns hashed
        ("raw_probability", pa.float64()),
        ("probability", pa.float64()),
        ("decision", pa.bool_()),
        ("latency_ms", pa.float64()),
    ]
)


class PredictionLog:
    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        pii_columns: tuple[str, ...] = (),
        batch_rows: int = 5000,
        flush_seconds: float = 1.0,
        max_queue: int = 200_000,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        salt_file = self.folder / ".salt"
        if not salt_file.exists():
            salt_file.write_text(secrets.token_hex(16))
        self._salt = salt_file.read_text().strip().encode()
        self.pii = frozenset(pii_columns)
        self.batch_rows, self.flush_seconds = batch_rows, flush_seconds
        # One queue item per request (a list of rows): one lock round trip per request, not per row.
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue()
        self.max_queue = max_queue
        self._queued = 0  # rows waiting, bounded by max_queue
        self._count_lock = threading.Lock()
        self.dropped = 0
        self.written = 0
        self._sequence = 0
        self._thread = threading.Thread(target=self._run, name="oddsline-prediction-log", daemon=True)
        self._thread.start()

    def append(self, records: list[dict[str, Any]]) -> None:
        """Queue scored rows; never blocks (a full queue drops and counts)."""
        with self._count_lock:
            if self._queued + len(records) > self.max_queue:
                self.dropped += len(records)
                return
            self._queued += len(records)
        self._queue.put_nowait(records)

    def hashed(self, row: dict[str, Any]) -> str:
        clean = {
            k: (hashlib.sha256(self._salt + str(v).encode()).hexdigest() if k in self.pii and v is not None else v)
            for k, v in row.items()
        }
        return orjson.dumps(clean, default=str).decode()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        pending: list[dict[str, Any]] = []
        while True:
            try:
                item = self._queue.get(timeout=self.flush_seconds)
            except queue.Empty:
                item = []
            if item is None:
                self._write(pending)
                return
            if item:
                pending.extend(item)
                with self._count_lock:
                    self._queued -= len(item)
            if pending and (not item or len(pending) >= self.batch_rows):
                self._write(pending)
                pending = []

    def _write(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        self._sequence += 1
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        target = self.folder / f"predictions-{stamp}-{self._sequence:06d}.parquet"
        for record in records:  # here, off the request path: rows to JSON with PII columns hashed
            if isinstance(record["features"], dict):
                record["features"] = self.hashed(record["features"])
        table = pa.Table.from_pylist(records, schema=_SCHEMA)
        with atomic_path(target) as tmp:
            pq.write_table(table, tmp)
        self.written += len(records)

    @staticmethod
    def read(folder: str | os.PathLike[str]) -> pa.Table:
        files = sorted(Path(folder).glob("predictions-*.parquet"))
        if not files:
            return _SCHEMA.empty_table()
        return pa.concat_tables(pq.read_table(f) for f in files)
