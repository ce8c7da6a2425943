"""Labels joined to the predictions they name, into the live calibration and log-loss metrics; and
the labels that named no known prediction yet, tried again for a while.

A worker of ``oddsline serve --workers N`` finds another worker's prediction in the prediction log
only once that worker has written it (within the log's ``max_wait_seconds``, 5 s by default). A label
posted right after its prediction can arrive before that: it waits here and is tried again each
second, for ``PENDING_SECONDS``, before it is counted unknown. Without a prediction log there is
nowhere else to look: unknown at once.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import time
from typing import TYPE_CHECKING, Any

from ..models import Model
from .recent import Remembered

if TYPE_CHECKING:
    from .service import Service

__all__ = ["PENDING_SECONDS", "PendingLabels", "join_labels"]

# How long a label that named no known prediction is tried again: the log's 5 s of waiting, a file
# written after it, and a margin for a busy machine.
PENDING_SECONDS = 15.0


class PendingLabels:
    """Labels waiting for their prediction to reach the log, oldest first, at most ``capacity``."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._waiting: collections.deque[tuple[float, dict[str, Any]]] = collections.deque()

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, records: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        """Keep ``records`` until ``now + PENDING_SECONDS``; those beyond the capacity are returned."""
        room = max(0, self.capacity - len(self._waiting))
        self._waiting.extend((now + PENDING_SECONDS, record) for record in records[:room])
        return records[room:]

    def take(self) -> list[tuple[float, dict[str, Any]]]:
        taken = list(self._waiting)
        self._waiting.clear()
        return taken

    def put_back(self, waiting: list[tuple[float, dict[str, Any]]]) -> None:
        self._waiting.extendleft(reversed(waiting))


def retry_pending(service: Service, now: float | None = None) -> None:
    """Join the waiting labels whose prediction is known now; count unknown those whose time is up.
    On the event loop, as a request's join is (Recent is not locked); the log is read beforehand."""
    if service.logged is None:
        return
    now = time.monotonic() if now is None else now
    still: list[tuple[float, dict[str, Any]]] = []
    found: list[tuple[dict[str, Any], Remembered]] = []
    for deadline, record in service.pending_labels.take():
        seen = service.recent.find(record["id"]) or service.logged.find(record["id"])
        if seen is not None:
            found.append((record, seen))
        elif deadline > now:
            still.append((deadline, record))
        else:
            service.metrics.child(service.metrics.labels, "", "unknown").inc()
    service.pending_labels.put_back(still)
    if found:
        join_labels(service, [r for r, _ in found], [s for _, s in found])


def _label_key(service: Service, prediction_id: str) -> str:
    """One key per prediction, so that its label counts once: "<id>:0" of a one-row request is "<id>"."""
    if prediction_id.endswith(":0"):
        plain = prediction_id[:-2]
        if service.recent.is_single(plain) or (service.logged is not None and service.logged.find(plain)):
            return plain
    return prediction_id


def join_labels(
    service: Service, records: list[dict[str, Any]], found: list[Remembered | None], *, wait: bool = False
) -> tuple[int, int, int, int]:
    """Each label against the prediction it names, into the live calibration and log-loss metrics;
    the counts of labels matched, of labels naming neither class, of labels of a prediction this
    worker had counted a label for already (not counted again: a resent batch would weigh twice; the
    label store keeps every copy, and ``labels performance`` takes the latest), and of labels waiting:
    with ``wait``, a label that names no known prediction waits in ``service.pending_labels`` rather
    than counting unknown at once."""
    metrics = service.metrics
    now = dt.datetime.now(dt.UTC)
    matched = invalid = repeated = 0
    arrivals: dict[str, float] = {}  # per model, when its latest matched label arrived
    waiting: list[dict[str, Any]] = []
    for record, seen in zip(records, found, strict=True):
        if seen is None and wait:
            record.setdefault("received_at", now)  # a label's delay and clock run from its arrival
            waiting.append(record)
            continue
        served = service.models.snapshot().get(seen.model) if seen else None
        # Only binary predictions are remembered (score_and_record); the kind check says so to the type checker.
        if seen is None or served is None or not isinstance(served.model, Model):
            metrics.child(metrics.labels, "", "unknown").inc()
            continue
        positive = served.model.target.label_of(record["label"])
        if positive is None:  # neither class: never silently a negative
            invalid += 1
            metrics.child(metrics.labels, seen.model, "invalid").inc()
            continue
        if not service.recent.first_label(_label_key(service, str(record["id"]))):
            repeated += 1
            metrics.child(metrics.labels, seen.model, "repeated").inc()
            continue
        matched += 1
        arrived = record.get("received_at", now)
        arrivals[seen.model] = max(arrivals.get(seen.model, 0.0), arrived.timestamp())
        metrics.child(metrics.labels, seen.model, "matched").inc()
        # A label time before its prediction (another machine's clock) is a delay of 0, not a negative one.
        delay = max(0.0, (record["labelled_at"] or arrived).timestamp() - seen.time)
        metrics.child(metrics.label_delay, seen.model).observe(delay)
        q = min(max(seen.probability, 1e-15), 1 - 1e-15)
        metrics.child(metrics.labelled, seen.model, seen.version).inc()
        metrics.child(metrics.labelled_positive, seen.model, seen.version).inc(1.0 if positive else 0.0)
        metrics.child(metrics.labelled_probability, seen.model, seen.version).inc(seen.probability)
        metrics.child(metrics.labelled_log_loss, seen.model, seen.version).inc(
            -math.log(q) if positive else -math.log1p(-q)
        )
    beyond = service.pending_labels.add(waiting, time.monotonic()) if waiting else []
    for _ in beyond:
        metrics.child(metrics.labels, "", "unknown").inc()
    # Per model: labels flowing for one model say nothing of another's; and labels that match no
    # prediction say nothing about whether labels flow.
    for model, arrived_at in arrivals.items():
        metrics.child(metrics.last_label, model).set(arrived_at)
    return matched, invalid, repeated, len(waiting) - len(beyond)
