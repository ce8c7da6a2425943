"""The prediction log: every scored row appended, off the request path, to Parquet files.

Requests put their rows on a bounded queue and return; a background thread wakes every
``flush_seconds``, takes what is queued, journals it (journal.py: appended and fsync'd, one group
commit per wake-up, so SIGKILL loses only what was not yet journaled) and writes it in batches, one
file per ``batch_rows`` rows or per ``max_wait_seconds`` of waiting
(``predictions-<UTC time>-<log token>-<n>.parquet`` under the log folder: rotation by construction,
and a reader never sees a half-written file because each is written under a temporary name and
renamed). While requests are being served the thread waits for a quiet moment, for at most
``max_defer_seconds``. A full queue drops rows and counts them rather than slow the service. ``close``
drains the queue and writes what is left: after a clean shutdown, logged rows == scored rows.
Columns named as PII are replaced by the SHA-256 of their value (salted per log folder).
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..io import atomic_path, private_file, private_folder
from ..monitor.prediction_files import SCHEMA as _SCHEMA
from .columns import ColumnRows, RequestRows, as_dicts
from .journal import Journal, recover

__all__ = ["PredictionLog", "Scored"]

_log = logging.getLogger("oddsline.serve")


# Values JSON has no spelling for (a timestamp from a CSV body) are written as text.
_encoder = msgspec.json.Encoder(enc_hook=str)

# Rows converted per step of the writer thread (about a millisecond of work).
_STEP_ROWS = 500
# How often the writer looks again for a moment without requests in flight.
_IDLE_POLL_SECONDS = 0.005


class Scored(NamedTuple):
    """One request's scored rows, as the request hands them to the log (one queue item)."""

    request_id: str
    time_us: int  # microseconds since the epoch (UTC)
    model: str
    version: str
    route: str
    rows: RequestRows
    raw: list[float]
    probability: list[float]
    decision: list[bool]
    latency_ms: float
    positions: list[int] | None = None  # the rows' places in their request, when it was scored in groups


class PredictionLog:
    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        pii_columns: tuple[str, ...] = (),
        batch_rows: int = 5000,
        flush_seconds: float = 0.25,
        max_wait_seconds: float = 5.0,
        max_queue: int = 200_000,
        on_rows: Callable[[str, int], None] | None = None,
        busy: Callable[[], bool] | None = None,
        max_defer_seconds: float = 1.0,
    ) -> None:
        self.folder = private_folder(folder)
        salt_file = self.folder / ".salt"  # secret: with it, a hashed PII value can be checked by guessing
        private_file(salt_file, secrets.token_hex(16).encode())
        self._salt = salt_file.read_text().strip().encode()
        self.pii = frozenset(pii_columns)
        self.batch_rows, self.flush_seconds, self.max_wait_seconds = batch_rows, flush_seconds, max_wait_seconds
        # One item per request on a deque the writer drains on its own schedule: appending never wakes
        # the writer thread (a wake-up and GIL hand-off per request cost more than scoring the row).
        self._items: collections.deque[Scored] = collections.deque()
        self._closing = threading.Event()
        self._failing = False  # the last write failed (said once per failing stretch)
        self.max_queue = max_queue
        self._queued = 0  # rows waiting, bounded by max_queue
        self._count_lock = threading.Lock()
        self.dropped = 0
        self.written = 0
        self.recovered = 0  # rows of killed processes' journals written when this log started
        self._on_rows = on_rows or (lambda outcome, n: None)  # ("written" | "dropped" | "recovered", rows)
        # Whether requests are being served: the writer then waits (up to max_defer_seconds for the
        # oldest queued row) rather than take the GIL and a core from them. Its work for a 1,000-row
        # request is 3-4 ms (the rows to Arrow, then their share of a Parquet file); done while the
        # next requests were scored, back-to-back 1,000-row requests took 3-5 ms longer (median).
        self._busy = busy or (lambda: False)
        self.max_defer_seconds = max_defer_seconds
        self._token = secrets.token_hex(6)  # this log's files and journal segments, apart from other workers'
        self._journal = Journal(self.folder, _SCHEMA, self._token)
        self._thread = threading.Thread(target=self._run, name="oddsline-prediction-log", daemon=True)
        self._thread.start()

    def append(self, batch: Scored) -> None:
        """Queue one request's scored rows; never blocks (a full queue drops and counts)."""
        n = len(batch.rows)
        with self._count_lock:
            if self._queued + n > self.max_queue:
                self.dropped += n
                self._on_rows("dropped", n)
                return
            self._queued += n
        self._items.append(batch)

    def hashed(self, row: dict[str, Any]) -> str:
        if self.pii:
            row = {
                k: (hashlib.sha256(self._salt + str(v).encode()).hexdigest() if k in self.pii and v is not None else v)
                for k, v in row.items()
            }
        return _encoder.encode(row).decode()

    def close(self) -> None:
        self._closing.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        # What is queued is turned into an Arrow record batch at every wake-up (a few milliseconds of
        # work at a time, not one long pause per file that would show in the requests' p99); a file is
        # written per batch_rows rows, or once rows have waited max_wait_seconds.
        self._recover()
        batches: list[pa.RecordBatch] = []
        rows, oldest = 0, 0.0
        while True:
            closing = self._closing.wait(self.flush_seconds)
            committed = time.monotonic()
            while self._items:
                if self._defer():
                    time.sleep(_IDLE_POLL_SECONDS)
                    continue
                # At most _STEP_ROWS rows per conversion, then the GIL is offered to the event loop:
                # after a burst the queue can hold 100,000 rows, and converting them in one go held
                # the GIL (inside pyarrow's C++) for long enough to show in the requests' p99.
                items, taken = [], 0
                while self._items and taken < _STEP_ROWS:
                    item = self._items.popleft()
                    items.append(item)
                    taken += len(item.rows)
                if not batches:
                    oldest = time.monotonic()
                batch = self._to_batch(items)
                self._journal.append(batch)
                if time.monotonic() - committed >= self.flush_seconds:  # a long drain commits as it goes
                    self._journal.commit()
                    committed = time.monotonic()
                batches.append(batch)
                rows += batch.num_rows
                with self._count_lock:
                    self._queued -= batch.num_rows
                if rows >= self.batch_rows:
                    self._write(pa.Table.from_batches(batches, schema=_SCHEMA))
                    batches, rows = [], 0
                time.sleep(0)
            self._journal.commit()  # the group commit: one fsync for what this wake-up converted
            if batches and (closing or rows >= self.batch_rows or time.monotonic() - oldest >= self.max_wait_seconds):
                self._write(pa.Table.from_batches(batches, schema=_SCHEMA))
                batches, rows = [], 0
            if closing:
                return

    def _defer(self) -> bool:
        """Requests are being served and the oldest queued row is younger than max_defer_seconds (and
        the log is not closing): wait for a quiet moment."""
        if self._closing.is_set() or not self._busy():
            return False
        return time.time_ns() // 1000 - self._items[0].time_us < self.max_defer_seconds * 1e6

    def _to_batch(self, items: list[Scored]) -> pa.RecordBatch:
        """The rows of several requests as one record batch. What is the same for a whole request
        (its id, time, model, route, latency) is converted once per request and repeated by Arrow;
        a decoded request's rows become JSON in one call (PII columns hashed row by row instead)."""
        counts = np.array([len(b.rows) for b in items], dtype=np.int64)
        owner = pa.array(np.repeat(np.arange(len(items)), counts))

        def per_request(values: list[Any], name: str) -> pa.Array:
            return pa.array(values, _SCHEMA.field(name).type).take(owner)

        request_id = per_request([b.request_id for b in items], "request_id")
        # "<request id>:<row>" for a row of a batch, the request id alone for a one-row request
        # (recent.prediction_ids, the definition labels are joined by).
        starts = np.cumsum(counts) - counts
        row = np.arange(int(counts.sum())) - np.repeat(starts, counts)
        alone = counts == 1
        for k, b in enumerate(items):
            if b.positions is not None:  # a group of a request: its rows' places in the request
                row[starts[k] : starts[k] + counts[k]] = b.positions
                alone[k] = False
        suffixed = pc.binary_join_element_wise(request_id, pa.array(row).cast(pa.string()), ":")
        prediction_id = pc.if_else(pa.array(np.repeat(alone, counts)), request_id, suffixed)
        columns = {
            "request_id": request_id,
            "prediction_id": prediction_id,
            "time": per_request([b.time_us for b in items], "time"),
            "model": per_request([b.model for b in items], "model"),
            "version": per_request([b.version for b in items], "version"),
            "route": per_request([b.route for b in items], "route"),
            "features": self._features(items),
            "raw_probability": pa.array([p for b in items for p in b.raw], pa.float64()),
            "probability": pa.array([p for b in items for p in b.probability], pa.float64()),
            "decision": pa.array([d for b in items for d in b.decision], pa.bool_()),
            "latency_ms": per_request([b.latency_ms for b in items], "latency_ms"),
        }
        return pa.RecordBatch.from_arrays([columns[name] for name in _SCHEMA.names], schema=_SCHEMA)

    def _features(self, items: list[Scored]) -> pa.Array:
        """Each row as a JSON object, PII columns hashed, in the items' order."""
        parts: list[pa.Array] = []
        pending: list[str] = []  # rows of consecutive dict requests, converted together
        for b in items:
            if isinstance(b.rows, ColumnRows) and not self.pii:
                if pending:
                    parts.append(pa.array(pending, pa.string()))
                    pending = []
                parts.append(b.rows.json_array())
            else:
                pending += [self.hashed(row) for row in as_dicts(b.rows)]
        if pending or not parts:
            parts.append(pa.array(pending, pa.string()))
        return parts[0] if len(parts) == 1 else pa.concat_arrays(parts)

    def _write(self, table: pa.Table) -> None:
        """Write ``table`` as one file, or drop and count its rows when the disk refuses (full, gone
        read-only): the service fails open, requests go on being answered, and the next file is tried
        as usual, so logging resumes by itself once there is room. No partial file is left. Either
        way the journal's segment of these rows is done with."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        target = self.folder / f"predictions-{stamp}-{self._token}-{self._journal.segment:06d}.parquet"
        try:
            written = self._write_file(table, target)
        finally:
            self._journal.rotate()
        if not written:
            with self._count_lock:
                self.dropped += table.num_rows
            self._on_rows("dropped", table.num_rows)
            return
        self.written += table.num_rows
        self._on_rows("written", table.num_rows)

    def _write_file(self, table: pa.Table, target: Path) -> bool:
        try:
            with atomic_path(target, private=True) as tmp:
                pq.write_table(table, tmp)
        except OSError as exc:
            if not self._failing:
                _log.error(
                    "prediction log: %d rows could not be written to %s (%s); dropped and counted in "
                    'oddsline_prediction_log_rows_total{outcome="dropped"}; logging resumes once the disk has room',
                    table.num_rows,
                    self.folder,
                    exc,
                )
            self._failing = True
            return False
        if self._failing:
            _log.warning("prediction log: writing to %s again", self.folder)
            self._failing = False
        return True

    def _recover(self) -> None:
        """The journal segments of killed processes, written as the files they were gathering."""

        def write(table: pa.Table, pattern: str) -> bool:
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
            return self._write_file(table.cast(_SCHEMA), self.folder / pattern.replace("*", stamp))

        try:
            rows = recover(self.folder, write)
        except OSError as exc:  # recovery must never stop the log
            _log.error("prediction log: journals in %s could not be recovered (%s)", self.folder, exc)
            return
        if rows:
            self.recovered = rows
            self._on_rows("recovered", rows)
