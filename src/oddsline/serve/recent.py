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

from .columns import RequestRows, as_dicts

__all__ = ["Recent", "Remembered", "prediction_ids"]


class Remembered(NamedTuple):
    time: float  # seconds since the epoch
    model: str
    version: str
    probability: float


# What is stored per request id: (time, model, version, probability) for one row, or (time, model,
# version, [probabilities]) for a batch. Plain tuples on purpose: the cyclic GC stops tracking an exact
# tuple of atoms, but never a NamedTuple (a subclass), and 200,000 tracked entries made every full
# collection walk them: 40-100 ms pauses in the requests' p99.
_Entry = tuple[float, str, str, float | list[float]]


def prediction_ids(request_id: str, n_rows: int) -> list[str]:
    """The prediction id of each row of a request: what a label names."""
    return [request_id] if n_rows == 1 else [f"{request_id}:{i}" for i in range(n_rows)]


class Recent:
    def __init__(self, max_predictions: int = 200_000, max_rows: int = 5_000) -> None:
        # By request id, oldest first. An OrderedDict, because forgetting the oldest entry of a plain
        # dict (next(iter(d))) walks over every slot deleted before it: at 200,000 entries that made
        # eviction, paid by every request once full, cost milliseconds.
        self.predictions: collections.OrderedDict[str, _Entry] = collections.OrderedDict()
        self.max_predictions = max_predictions
        self.n_predictions = 0
        # Per model, the requests' rows as they came (a list of dicts, or decoded columns), newest
        # last, with the row count: a request is kept whole, and turned into dicts only by take_rows.
        self.rows: dict[str, collections.deque[RequestRows]] = {}
        self._n_rows: dict[str, int] = {}
        self.max_rows = max_rows
        # Prediction ids already labelled here: a label posted again (a retry, a resend) is not counted
        # again in the live performance metrics. As many as predictions are remembered, oldest forgotten.
        self.labelled: collections.OrderedDict[str, None] = collections.OrderedDict()

    def remember(
        self,
        request_id: str,
        rows: RequestRows,
        model: str,
        version: str,
        probabilities: list[float],
        positions: list[int] | None = None,
    ) -> None:
        """A request's predictions, or (``positions``) those of the rows of a request at those places:
        a canary request is scored in two groups, and each row is then remembered by its own id."""
        now = time.time()
        if positions is None:  # the hot path: one entry, put here without a further call
            entry: _Entry = (now, model, version, probabilities[0] if len(probabilities) == 1 else probabilities)
            if request_id in self.predictions:
                self._forget(request_id)
            self.predictions[request_id] = entry
            self.n_predictions += len(probabilities)
        else:
            for i, p in zip(positions, probabilities, strict=True):
                key = f"{request_id}:{i}"
                self._forget(key)
                self.predictions[key] = (now, model, version, p)
                self.n_predictions += 1
        while self.n_predictions > self.max_predictions:
            _, oldest = self.predictions.popitem(last=False)
            self.n_predictions -= _size(oldest)
        queue = self.rows.setdefault(model, collections.deque())
        queue.append(rows)
        n = self._n_rows.get(model, 0) + len(rows)
        while n - len(queue[0]) >= self.max_rows:  # the older requests are not needed for max_rows rows
            n -= len(queue.popleft())
        self._n_rows[model] = n

    def find(self, prediction_id: str) -> Remembered | None:
        """The remembered prediction of that id, or None (never made, or forgotten)."""
        entry = self.predictions.get(prediction_id)
        if entry is not None and not isinstance(entry[3], list):
            return Remembered(*entry)  # type: ignore[arg-type]
        request_id, colon, row = prediction_id.rpartition(":")
        batch = self.predictions.get(request_id) if colon and row.isdigit() else None
        if batch is not None and isinstance(batch[3], list) and int(row) < len(batch[3]):
            return Remembered(batch[0], batch[1], batch[2], batch[3][int(row)])
        if batch is not None and not isinstance(batch[3], list) and int(row) == 0:
            return Remembered(*batch)  # type: ignore[arg-type]  # "<id>:0" of a one-row request
        return None

    def is_single(self, prediction_id: str) -> bool:
        """Whether that id is a remembered one-row request's."""
        entry = self.predictions.get(prediction_id)
        return entry is not None and not isinstance(entry[3], list)

    def first_label(self, prediction_id: str) -> bool:
        """Whether this is the first label of that prediction here (and remember that it is labelled)."""
        if prediction_id in self.labelled:
            return False
        self.labelled[prediction_id] = None
        while len(self.labelled) > self.max_predictions:
            self.labelled.popitem(last=False)
        return True

    def take_rows(self, model: str) -> list[dict[str, Any]]:
        """The model's most recent rows, at most ``max_rows``, oldest first."""
        rows = [row for request in list(self.rows.get(model, ())) for row in as_dicts(request)]
        return rows[-self.max_rows :]

    def _forget(self, request_id: str) -> None:
        entry = self.predictions.pop(request_id, None)
        if entry is not None:
            self.n_predictions -= _size(entry)


def _size(entry: _Entry) -> int:
    return len(entry[3]) if isinstance(entry[3], list) else 1
