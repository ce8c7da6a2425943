"""``POST /v1/labels``: late labels of earlier predictions, joined by prediction id to what this worker
remembers, else to the prediction log (another worker's, or before a restart)."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from typing import Any

from fastapi import APIRouter, Request

from ...models import Model
from ..payloads import labels_from_json, parse_json
from ..recent import Remembered
from ..service import Service, service_of

__all__ = ["join_labels", "router"]

router = APIRouter()


@router.post("/v1/labels", summary="labels of earlier predictions, by prediction id (late labels)")
async def post_labels(request: Request) -> dict[str, Any]:
    service = service_of(request)
    records = labels_from_json(parse_json(await service.body(request)), service.settings.max_rows)
    found = [service.recent.find(record["id"]) for record in records]
    if service.logged is not None and None in found:  # made by another worker, or before a restart
        logged = service.logged
        await asyncio.to_thread(logged.refresh)
        found = [seen or logged.find(record["id"]) for seen, record in zip(found, records, strict=True)]
    matched, invalid, repeated = join_labels(service, records, found)
    folder = service.settings.labels_folder
    if folder:
        from ...monitor.labels import store_labels

        await asyncio.to_thread(store_labels, records, folder)
    return {
        "received": len(records),
        "matched": matched,
        "unknown": len(records) - matched - invalid - repeated,
        "invalid": invalid,
        "repeated": repeated,
        "stored": bool(folder),
    }


def join_labels(
    service: Service, records: list[dict[str, Any]], found: list[Remembered | None]
) -> tuple[int, int, int]:
    """Each label against the prediction it names, into the live calibration and log-loss metrics;
    the counts of labels matched, of labels naming neither class, and of labels of a prediction this
    worker had counted a label for already (not counted again: a resent batch would weigh twice; the
    label store keeps every copy, and ``labels performance`` takes the latest)."""
    metrics = service.metrics
    now = dt.datetime.now(dt.UTC)
    matched = invalid = repeated = 0
    for record, seen in zip(records, found, strict=True):
        served = service.models.snapshot().get(seen.model) if seen else None
        # Only binary predictions are remembered (score_and_record); the kind check says so to the type checker.
        if seen is None or served is None or not isinstance(served.model, Model):
            metrics.child(metrics.labels, "unknown").inc()
            continue
        positive = served.model.target.label_of(record["label"])
        if positive is None:  # neither class: never silently a negative
            invalid += 1
            metrics.child(metrics.labels, "invalid").inc()
            continue
        if not service.recent.first_label(record["id"]):
            repeated += 1
            metrics.child(metrics.labels, "repeated").inc()
            continue
        matched += 1
        metrics.child(metrics.labels, "matched").inc()
        # A label time before its prediction (another machine's clock) is a delay of 0, not a negative one.
        metrics.label_delay.observe(max(0.0, (record["labelled_at"] or now).timestamp() - seen.time))
        q = min(max(seen.probability, 1e-15), 1 - 1e-15)
        metrics.child(metrics.labelled, seen.model, seen.version).inc()
        metrics.child(metrics.labelled_positive, seen.model, seen.version).inc(1.0 if positive else 0.0)
        metrics.child(metrics.labelled_probability, seen.model, seen.version).inc(seen.probability)
        metrics.child(metrics.labelled_log_loss, seen.model, seen.version).inc(
            -math.log(q) if positive else -math.log1p(-q)
        )
    if matched:  # labels that match no prediction say nothing about whether labels flow
        metrics.last_label.set(now.timestamp())
    return matched, invalid, repeated
