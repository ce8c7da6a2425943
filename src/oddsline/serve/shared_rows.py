"""The recent rows of every worker of ``oddsline serve --workers N``, pooled for the drift measurement.

Each worker keeps the rows it scored (``recent.py``) and used to measure drift on those alone: with N
workers a model needed N x ``--drift-min-rows`` rows before the first ``oddsline_drift_psi`` series
existed, and each worker's PSI came from 1/N of the traffic. At each measurement a worker now writes its
rows of a model to one Arrow file in the server's private metrics folder (0600, replaced atomically)
and reads every worker's: the drift is measured on the pool, the latest ``window / files`` rows of each,
so the window keeps its size. A file not rewritten for three measurement intervals belongs to a worker
that is gone and is left out; a worker removes its own files when it stops.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from ..io import concat_rows

__all__ = ["SharedRows"]


class SharedRows:
    def __init__(self, folder: str | os.PathLike[str], interval: float) -> None:
        self.folder = Path(folder) / "drift-rows"
        self.folder.mkdir(mode=0o700, exist_ok=True)
        self.stale_after = 3 * interval + 5.0
        self.pid = os.getpid()
        self._written: set[Path] = set()

    def pool(self, model: str, own: pa.Table | None, window: int) -> pa.Table | None:
        """Every live worker's recent rows of ``model`` (this one's ``own`` written first), at most
        ``window`` in all; None when no worker has any."""
        key = hashlib.sha256(model.encode()).hexdigest()[:16]
        if own is not None and own.num_rows:
            self._write(self.folder / f"{key}.{self.pid}.arrow", own)
        now = time.time()
        files = []
        for path in sorted(self.folder.glob(f"{key}.*.arrow")):
            with contextlib.suppress(FileNotFoundError):  # a worker stopping removes its file
                if now - path.stat().st_mtime <= self.stale_after:
                    files.append(path)
        share = math.ceil(window / max(len(files), 1))
        tables = []
        for path in files:
            try:
                with pa.memory_map(str(path)) as source:
                    table = ipc.open_file(source).read_all()
            except (FileNotFoundError, pa.ArrowInvalid):  # removed, or a write from before a crash
                continue
            tables.append(table.slice(max(0, table.num_rows - share)))
        return concat_rows(tables) if tables else None

    def close(self) -> None:
        for path in self._written:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _write(self, path: Path, table: pa.Table) -> None:
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # rows may hold PII
        with os.fdopen(descriptor, "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(partial, path)
        self._written.add(path)
