"""What the server remembers of its recent traffic: predictions by id (to join labels posted to
/v1/labels) and rows per model (to measure drift against the training reference).

A prediction id is the request id for a one-row request and ``<request id>:<row>`` for a row of a
batch (``prediction_ids``); a batch is remembered as one entry, so a 1,000-row request costs one dict
insertion here, not a thousand.
"""

from __future__ import annotations

import collections
import time
from typing import Any, NamedTuple

__all__ = ["Recent", "Remembered", "prediction_ids"]


class Remembered(NamedTuple):
    time: float  # seconds since the epoch
    model: str
    version: str
    probability: float


class _Batch(NamedTuple):
    time: float
    model: str
    version: str
    probabilities: list[float]


def prediction_ids(request_id: str, n_rows: int) -> list[str]:
    """The prediction id of each row of a request: what a label names."""
    return [request_id] if n_rows == 1 else [f"{request_id}:{i}" for i in range(n_rows)]


class Recent:
    def __init__(self, max_predictions: int = 200_000, max_rows: int = 5_000) -> None:
        # By request id, oldest first. An OrderedDict, because forgetting the oldest entry of a plain
        # dict (next(iter(d))) walks over every slot deleted before it: at 200,000 entries that made
        # eviction, paid by every request once full, cost milliseconds.
        self.predictions: collections.OrderedDict[str, Remembered | _Batch] = collections.OrderedDict()
        self.max_predictions = max_predictions
        self.n_predictions = 0
        self.rows: dict[str, collections.deque[dict[str, Any]]] = {}
        self.max_rows = max_rows

    def remember(
        self, request_id: str, rows: list[dict[str, Any]], model: str, version: str, probabilities: list[float]
    ) -> None:
        now = time.time()
        entry: Remembered | _Batch
        if len(probabilities) == 1:
            entry = Remembered(now, model, version, probabilities[0])
        else:
            entry = _Batch(now, model, version, probabilities)
        self._forget(request_id)
        self.predictions[request_id] = entry
        self.n_predictions += len(probabilities)
        while self.n_predictions > self.max_predictions:
            _, oldest = self.predictions.popitem(last=False)
            self.n_predictions -= _size(oldest)
        queue = self.rows.get(model)
        if queue is None:
            queue = self.rows[model] = collections.deque(maxlen=self.max_rows)
        queue.extend(rows)

    def find(self, prediction_id: str) -> Remembered | None:
        """The remembered prediction of that id, or None (never made, or forgotten)."""
        entry = self.predictions.get(prediction_id)
        if isinstance(entry, Remembered):
            return entry
        request_id, colon, row = prediction_id.rpartition(":")
        batch = self.predictions.get(request_id) if colon and row.isdigit() else None
        if isinstance(batch, _Batch) and int(row) < len(batch.probabilities):
            return Remembered(batch.time, batch.model, batch.version, batch.probabilities[int(row)])
        return None

    def take_rows(self, model: str) -> list[dict[str, Any]]:
        return list(self.rows.get(model, ()))

    def _forget(self, request_id: str) -> None:
        entry = self.predictions.pop(request_id, None)
        if entry is not None:
            self.n_predictions -= _size(entry)


def _size(entry: Remembered | _Batch) -> int:
    return len(entry.probabilities) if isinstance(entry, _Batch) else 1
