"""What the server remembers of its recent traffic: predictions by id (to join labels posted to
/v1/labels) and rows per model (to measure drift against the training reference)."""

from __future__ import annotations

import collections
import time
from typing import Any, NamedTuple

__all__ = ["Recent", "Remembered"]


class Remembered(NamedTuple):
    time: float  # seconds since the epoch
    model: str
    version: str
    probability: float


class Recent:
    def __init__(self, max_predictions: int = 200_000, max_rows: int = 5_000) -> None:
        self.predictions: dict[str, Remembered] = {}  # insertion-ordered: the oldest first
        self.max_predictions = max_predictions
        self.rows: dict[str, collections.deque[dict[str, Any]]] = {}
        self.max_rows = max_rows

    def remember(
        self, ids: list[str], rows: list[dict[str, Any]], model: str, version: str, probabilities: list[float]
    ) -> None:
        now = time.time()
        for i, p in zip(ids, probabilities, strict=True):
            self.predictions[i] = Remembered(now, model, version, p)
        while len(self.predictions) > self.max_predictions:
            del self.predictions[next(iter(self.predictions))]
        queue = self.rows.get(model)
        if queue is None:
            queue = self.rows[model] = collections.deque(maxlen=self.max_rows)
        queue.extend(rows)

    def take_rows(self, model: str) -> list[dict[str, Any]]:
        return list(self.rows.get(model, ()))
