"""The steps of scoring a request's rows, shared by every protocol: route to a champion or its
challenger, score, count, remember for labels and drift, log.

``score_rows`` scores and counts only (no state beyond the metrics); ``score_and_record`` adds the
recent rows and the prediction log; ``score`` adds canary and shadow routing; ``scored`` decides
whether the work runs inline or on a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import MutableMapping
from typing import Any

import numpy as np

from ..features import TransformReport
from ..models import Model, MulticlassModel
from .class_scores import score_classes
from .columns import ColumnRows, RequestRows, as_dicts
from .errors import ServiceError
from .json_types import check_value_types
from .metrics import ServiceMetrics
from .models import Served
from .out_of_range import out_of_range_rows
from .prediction_log import Scored
from .request_ids import request_state
from .rows_table import rows_table
from .scores import Scores
from .service import OTHER_COLUMN, Service
from .settings import Settings

__all__ = ["score", "score_and_record", "score_rows", "scored", "to_challenger"]

_INLINE_ROWS = 64


async def scored(
    service: Service, served: Served, rows: RequestRows, scope: MutableMapping[str, Any], explain: bool = False
) -> Scores:
    """Small requests are scored inline (microseconds); large ones on a worker thread, so the event
    loop keeps answering other requests (and the timeout can fire) meanwhile, unless the compiled
    scorer already scored them at decode: what is left (probabilities, decisions, the answer's
    JSON) is about 0.5 us a row, all of it holding the GIL, and the two thread hand-offs cost 1,000
    rows 0.3 ms more in server time than doing it here. ``scope`` is the request's ASGI scope (its
    state holds the request id and start time the gate set)."""
    try:
        known = (
            isinstance(rows, ColumnRows) and rows.compiled and not explain and served.name not in service.challengers
        )
        if len(rows) <= _INLINE_ROWS or known:
            return score(service, served, rows, scope, explain)
        return await asyncio.to_thread(score, service, served, rows, scope, explain)
    finally:
        if isinstance(rows, ColumnRows):
            rows.release()  # the log and the recent rows keep the body only


def to_challenger(settings: Settings, row: dict[str, Any]) -> bool:
    """Sticky canary routing: a hash of the entity key (or of the whole row) against the percentage."""
    key = row.get(settings.canary_key) if settings.canary_key else json.dumps(row, sort_keys=True, default=str)
    bucket = int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:8], "big") % 10_000
    return bucket < settings.canary_percent * 100


def score(
    service: Service, served: Served, rows: RequestRows, scope: MutableMapping[str, Any], explain: bool = False
) -> Scores:
    """``rows`` scored by ``served``, or in part (canary) or also (shadow) by its challenger."""
    challenger = service.challengers.get(served.name)
    if challenger is None:
        return score_and_record(service, served, rows, scope, explain)
    if service.settings.shadow:
        results = score_and_record(service, served, rows, scope, explain)
        with contextlib.suppress(Exception):  # the shadow never fails a request
            score_and_record(service, challenger, rows, scope, False, route="shadow")
        return results
    rows = as_dicts(rows)
    routed = [to_challenger(service.settings, row) for row in rows]
    merged: list[dict[str, Any] | None] = [None] * len(rows)
    for target, flag in ((challenger, True), (served, False)):
        chosen = [i for i, r in enumerate(routed) if r == flag]
        if chosen:
            # Each group's rows keep their place in the request: "<request id>:<row>" names the
            # same row in the log, in the recent predictions and in the answer.
            positions = chosen if len(rows) > 1 else None
            part = score_and_record(service, target, [rows[i] for i in chosen], scope, explain, positions=positions)
            for i, result in zip(chosen, part.dicts(), strict=True):
                merged[i] = result | {"model_version": target.version, "variant": "challenger" if flag else "champion"}
    return Scores.from_dicts([r for r in merged if r is not None])


def score_and_record(
    service: Service,
    served: Served,
    rows: RequestRows,
    scope: MutableMapping[str, Any],
    explain: bool = False,
    route: str | None = None,
    positions: list[int] | None = None,
) -> Scores:
    """Score, remember and log ``rows``: the whole request, or (``positions``) the rows of it at
    those places."""
    results = score_rows(service.metrics, served, rows, explain)
    if results.decision is None:  # a multinomial model: nothing of a positive class to log or label
        return results
    state = request_state(scope)
    request_id = state["request_id"]
    if route != "shadow":  # a shadow row has its champion's id: the champion's prediction is remembered
        service.recent.remember(request_id, rows, served.name, served.version, results.probability, positions)
    if service.log is not None:
        service.log.append(
            Scored(
                request_id,
                time.time_ns() // 1000,
                served.name,
                served.version,
                route or scope["path"],
                rows,
                results.raw_probability,
                results.probability,
                results.decision,
                (time.perf_counter() - state["started"]) * 1000,
                positions,
            )
        )
    return results


def score_rows(metrics: ServiceMetrics, served: Served, rows: RequestRows, explain: bool = False) -> Scores:
    """``rows`` scored by ``served``'s model, the predictions and input events counted in ``metrics``."""
    model = served.model
    check_value_types(rows, served.source_columns, served.numeric_columns)
    report = TransformReport()
    if not isinstance(model, Model):
        return _score_classes(metrics, served, rows, report, explain)
    observed: list[float] | np.ndarray
    if len(rows) == 1:
        one = model.predict_one(as_dicts(rows)[0], report)
        raw, calibrated = [one.raw_probability], [one.probability]
        decided = [one.probability >= model.threshold]
        observed = calibrated
    else:
        raw_array = model.predict_rows(rows, report, raw=True)
        observed = raw_array if model.calibrator is None else model.calibrator.apply(raw_array)
        raw, calibrated = raw_array.tolist(), observed.tolist()
        decided = (observed >= model.threshold).tolist()
    _count_events(metrics, served, report)
    positives = sum(decided)
    for decision, count in (("positive", positives), ("negative", len(decided) - positives)):
        if count:
            metrics.child(metrics.predictions, served.name, served.version, decision).inc(count)
    metrics.observe_many(metrics.child(metrics.scores, served.name), observed)
    negative, positive = model.classes
    labels = [positive if d else negative for d in decided]
    extra = _flagged(served, rows, report)
    if explain:
        explained = _explained(model, served, rows)
        extra = explained if extra is None else [{**a, **b} for a, b in zip(extra, explained, strict=True)]
    return Scores(calibrated, raw, decided, labels, extra)


def _explained(model: Model, served: Served, rows: RequestRows) -> list[dict[str, Any]]:
    """Each row's five largest contributions to the log-odds, and the base."""
    contributions = model.explain(rows_table(as_dicts(rows), served.numeric_columns))
    explained = []
    for values in contributions.values:
        top = np.argsort(-np.abs(values))[:5]
        explained.append(
            {"contributions": {contributions.names[j]: float(values[j]) for j in top}, "base": contributions.base}
        )
    return explained


def _flagged(served: Served, rows: RequestRows, report: TransformReport) -> list[dict[str, Any]] | None:
    """Each row's out-of-range columns for the answer, when the encoders counted any."""
    counted = report.counts.get("out_of_range")
    return out_of_range_rows(served.model.features, rows, list(counted)) if counted else None


def _score_classes(
    metrics: ServiceMetrics, served: Served, rows: RequestRows, report: TransformReport, explain: bool
) -> Scores:
    model = served.model
    if not isinstance(model, MulticlassModel):
        raise ServiceError(500, f"model {served.name!r} is of kind {model.kind!r}, which this server cannot score")
    results = score_classes(model, rows, report, explain, served.numeric_columns)
    _count_events(metrics, served, report)
    flagged = _flagged(served, rows, report)
    if flagged is not None:
        extra = results.extra or [{} for _ in flagged]
        results.extra = [{**a, **b} for a, b in zip(extra, flagged, strict=True)]
    counts: dict[str, int] = {}
    for label in results.label:
        counts[str(label)] = counts.get(str(label), 0) + 1
    for label, count in counts.items():
        metrics.child(metrics.predictions, served.name, served.version, label).inc(count)
    return results


def _count_events(metrics: ServiceMetrics, served: Served, report: TransformReport) -> None:
    for event, per_column in report.counts.items():
        for column, n in per_column.items():
            # An unexpected column's name comes from the client: one "other" series for them all.
            label = column if column in served.columns else OTHER_COLUMN
            metrics.child(metrics.input_events, served.name, event, label).inc(n)
