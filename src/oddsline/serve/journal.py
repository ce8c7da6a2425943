"""The prediction log's journal: what is bound for the next Parquet file, appended and fsync'd as it
is converted, so that a process killed with SIGKILL loses at most the rows it had not yet journaled.

Each log (one per worker) appends its record batches to one segment, ``journal-<token>-<n>.arrows``
(an Arrow IPC stream, 0600, held under an exclusive ``flock`` while open), and makes them durable with
one fsync per wake-up of its writer thread: a group commit. The segment holds exactly the rows of the
Parquet file being gathered; that file is named after the segment
(``predictions-<time>-<token>-<n>.parquet``), and once it is renamed into place the segment is deleted.

Recovery, when a log starts: a segment no live process holds the lock of was left by a killed one.
Its complete batches (a torn last one is the part not yet journaled) become the Parquet file it was
gathering, unless that file exists already (killed between the rename and the delete): each row lands
in exactly one file, so a prediction id is never logged twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

__all__ = ["Journal", "recover"]

_log = logging.getLogger("oddsline.serve")

SEGMENTS = "journal-*.arrows"
# A hidden temporary file of a Parquet write older than this was left by a killed writer: removed.
_STALE_TMP_SECONDS = 600.0
# A log creates its segment, then locks it: an empty, unlocked segment younger than this may be one in
# between, and is left alone (an empty one holds nothing to recover anyway).
_FRESH_SECONDS = 60.0


def segment_name(token: str, n: int) -> str:
    return f"journal-{token}-{n:06d}.arrows"


def parquet_glob(token: str, n: int) -> str:
    """The Parquet file a segment becomes, whatever its time stamp."""
    return f"predictions-*-{token}-{n:06d}.parquet"


class Journal:
    def __init__(self, folder: Path, schema: pa.Schema, token: str) -> None:
        self.folder, self.schema, self.token = folder, schema, token
        self.segment = 1
        self._file: Any = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._broken = False  # this segment could not be written (disk full): its rows go unjournaled
        self._pending = False  # batches written since the last fsync

    @property
    def path(self) -> Path:
        return self.folder / segment_name(self.token, self.segment)

    def append(self, batch: pa.RecordBatch) -> None:
        if self._broken:
            return
        try:
            if self._writer is None:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)  # held while open: recovery leaves a live log's segment alone
                self._file = os.fdopen(fd, "wb")
                self._writer = pa.ipc.new_stream(self._file, self.schema)
            self._writer.write_batch(batch)
            self._pending = True
        except OSError as exc:
            self._broken = True
            _log.error(
                "prediction log: journal %s cannot be written (%s); rows go unjournaled until the next file",
                self.path,
                exc,
            )

    def commit(self) -> None:
        """Make what was appended durable: one fsync for everything since the last commit."""
        if not self._pending or self._file is None or self._broken:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self._broken = True
            _log.error("prediction log: journal %s cannot be synced (%s)", self.path, exc)
        self._pending = False

    def rotate(self) -> None:
        """The segment's rows are in their Parquet file (or were dropped and counted): delete it and
        start the next one."""
        path = self.path
        if self._writer is not None:
            try:
                self._writer.close()
                self._file.close()
            except OSError:
                pass  # the segment is deleted anyway
        if self._writer is not None or self._broken:
            path.unlink(missing_ok=True)
        self._file, self._writer, self._broken, self._pending = None, None, False, False
        self.segment += 1


def recover(folder: Path, write: Callable[[pa.Table, str], bool]) -> int:
    """Turn the segments of killed processes into the Parquet files they were gathering; the rows
    recovered. ``write(table, glob)`` writes the file a segment becomes (its name matching ``glob``),
    True once it is in place."""
    recovered = 0
    now = time.time()
    for tmp in folder.glob(".predictions-*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                tmp.unlink()
    for path in sorted(folder.glob(SEGMENTS)):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:  # another worker recovered it meanwhile
            continue
        with os.fdopen(fd, "rb") as handle:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live log's segment
            if not path.exists():
                continue  # recovered and deleted by another worker before we took the lock
            token, n = path.stem.split("-")[1:3]
            target = parquet_glob(token, int(n))
            batches = _complete_batches(handle)
            rows = sum(b.num_rows for b in batches)
            if not rows and now - os.fstat(fd).st_mtime < _FRESH_SECONDS:
                continue  # just created by a live log that has not taken its lock yet: not ours
            if rows and not any(folder.glob(target)):
                if not write(pa.Table.from_batches(batches), target):
                    continue  # the disk refused: the segment stays for the next start
                recovered += rows
                _log.warning("prediction log: recovered %d rows journaled by a process that was killed", rows)
            path.unlink()
    return recovered


def _complete_batches(handle: Any) -> list[pa.RecordBatch]:
    """The batches of a segment up to a torn one (the process was killed while appending it)."""
    batches: list[pa.RecordBatch] = []
    try:
        reader = pa.ipc.open_stream(handle)
        while True:
            batches.append(reader.read_next_batch())
    except StopIteration:
        pass
    except (pa.ArrowInvalid, OSError, EOFError):
        pass  # a torn tail: what follows the last complete batch was never committed
    return batches
