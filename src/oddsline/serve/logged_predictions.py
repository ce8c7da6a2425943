"""Predictions made by any worker, read back from the prediction log they all write, so that a label
posted to one worker of ``oddsline serve --workers N`` joins a prediction another worker made.

Each worker remembers its own recent predictions in memory (recent.py); a label that names one it
does not know is looked up here. The log's files are complete when they appear (written under a
temporary name, then renamed), so each is read once, only its five columns, and only when a label
missed: a worker that receives no labels reads nothing. A prediction is found once the worker that
made it has written it, within the log's ``max_wait_seconds`` (5 s by default).
"""

from __future__ import annotations

import collections
import os
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..monitor.prediction_files import FILES
from .recent import Remembered

__all__ = ["LoggedPredictions"]

_COLUMNS = ["prediction_id", "time", "model", "version", "probability"]


class LoggedPredictions:
    def __init__(self, folder: str | os.PathLike[str], max_predictions: int = 200_000, max_age_hours: float = 24.0):
        self.folder = Path(folder)
        self.max_predictions = max_predictions
        self.max_age_seconds = max_age_hours * 3600
        self._index: collections.OrderedDict[str, tuple[float, str, str, float]] = collections.OrderedDict()
        self._read: set[str] = set()  # files taken (or skipped as too old or beyond max_predictions)
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the log's files not read yet, newest first, up to ``max_predictions`` rows (blocking
        I/O: call it from a thread)."""
        with self._lock:
            present = {path.name: path for path in self.folder.glob(FILES)}
            self._read &= present.keys()  # files removed by retention are forgotten
            new = sorted((name for name in present if name not in self._read), reverse=True)
            taken: list[pa.Table] = []
            budget, oldest = self.max_predictions, time.time() - self.max_age_seconds
            for name in new:
                self._read.add(name)
                path = present[name]
                try:
                    if budget <= 0 or path.stat().st_mtime < oldest:
                        continue
                    table = pq.read_table(path, columns=_COLUMNS)
                except (OSError, pa.ArrowInvalid):  # removed meanwhile, or not a log file
                    continue
                taken.append(table)
                budget -= table.num_rows
            for table in reversed(taken):  # oldest first, so that the oldest are forgotten first
                self._add(table)

    def find(self, prediction_id: str) -> Remembered | None:
        entry = self._index.get(prediction_id)
        if entry is None and prediction_id.endswith(":0"):
            entry = self._index.get(prediction_id[:-2])  # "<id>:0" of a one-row request, logged as "<id>"
        return None if entry is None else Remembered(*entry)

    def _add(self, table: pa.Table) -> None:
        seconds = pc.divide(pc.cast(table.column("time"), pa.int64()), 1e6).to_pylist()
        columns = zip(
            table.column("prediction_id").to_pylist(),
            seconds,
            table.column("model").to_pylist(),
            table.column("version").to_pylist(),
            table.column("probability").to_pylist(),
            strict=True,
        )
        for prediction_id, when, model, version, probability in columns:
            self._index[prediction_id] = (when, model, version, probability)
        while len(self._index) > self.max_predictions:
            self._index.popitem(last=False)
