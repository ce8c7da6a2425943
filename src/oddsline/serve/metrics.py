"""The service's Prometheus metrics, in a registry of their own (one per app).

With several worker processes each keeps its own counters; ``oddsline serve --workers N`` sets
``PROMETHEUS_MULTIPROC_DIR`` before the workers start, prometheus_client then writes every value to a
per-process file there, and /metrics (answered by whichever worker gets the scrape) sums the files of
all workers — so a scrape sees the whole server, not one worker's share.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from ..models import Model
from ..monitor.observe import LATENCY_BUCKETS
from .models import Served
from .protocol import REFUSAL_REASONS

# The ``_created`` series exist in one process's registry but not in the files several workers share:
# without them the exposition is the same with 1 worker or N (and half as long).
disable_created_metrics()  # type: ignore[no-untyped-call]

__all__ = ["STARTED_ENV", "ServiceMetrics", "server_started"]

# Set by ``oddsline serve`` for its workers: when the server started (seconds since the epoch).
STARTED_ENV = "ODDSLINE_SERVER_STARTED"


def server_started() -> float:
    """When the server started: the label clock's value until a label matches. A worker that replaces
    a killed one starts it at the server's start, not its own (the exported clock is the workers'
    maximum, and a later start would hide a label silence behind every crash)."""
    text = os.environ.get(STARTED_ENV, "")
    try:
        return float(text)
    except ValueError:
        return time.time()


_DELAY_BUCKETS = (60.0, 600.0, 3600.0, 6 * 3600.0, 86400.0, 3 * 86400.0, 7 * 86400.0, 30 * 86400.0)
# The routes an SLO reads, and the statuses they answer: their series exist from the start.
SCORING_ROUTE_TEMPLATES = (
    "/v1/models/{name}/predict",
    "/invocations",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/versions/{version}/infer",
)
STATUSES = ("200", "400", "404", "413", "422", "500", "503", "504")
_LATENCY_BUCKETS = LATENCY_BUCKETS  # one list: the generated latency rules select these bounds


class ServiceMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        # By model too (the served model a route names, "" for routes of none): each model's SLO reads
        # its own requests, and two models served side by side do not burn each other's budget.
        self.requests = Counter(
            "oddsline_requests", "HTTP requests by model, route and status", ["model", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "oddsline_request_duration_seconds",
            "request latency",
            ["model", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "oddsline_requests_in_flight", "requests being served", registry=r, multiprocess_mode="livesum"
        )
        self.draining = Gauge(
            "oddsline_draining", "1 while shutting down (readiness fails)", registry=r, multiprocess_mode="livemax"
        )
        self.predictions = Counter(
            "oddsline_predictions", "scored rows by decision", ["model", "version", "decision"], registry=r
        )
        self.scores = Histogram(
            "oddsline_score", "calibrated probabilities", ["model"], buckets=[i / 10 for i in range(1, 10)], registry=r
        )
        self.validation_failures = Counter(
            "oddsline_validation_failures", "refused inputs by field", ["field"], registry=r
        )
        self.input_events = Counter(
            "oddsline_input_events",
            "imputed, unseen, rare, out-of-range values by column",
            ["model", "event", "column"],
            registry=r,
        )
        self.rejected = Counter("oddsline_rejected_overload", "requests refused at the concurrency limit", registry=r)
        self.connections_refused = Counter(
            "oddsline_connections_refused",
            "requests answered by the HTTP layer before the app (408 slow head or body, 414, 431, malformed 400)",
            ["reason"],
            registry=r,
        )
        self.model_loads = Counter("oddsline_model_loads", "model loads by outcome", ["model", "outcome"], registry=r)
        self.logged_rows = Counter(
            "oddsline_prediction_log_rows",
            "prediction-log rows by outcome: written to a file; dropped (the writer's queue full, or the disk); "
            "recovered (journaled by a killed process, written when this one started)",
            ["outcome"],
            registry=r,
        )
        # Labels (POST /v1/labels) joined to the predictions this process made recently.
        self.labels = Counter(
            "oddsline_labels",
            "labels received by outcome (matched; unknown: no such prediction; invalid: neither class; "
            'repeated: its prediction was labelled already), by the model of the prediction ("" when unknown)',
            ["model", "outcome"],
            registry=r,
        )
        self.label_delay = Histogram(
            "oddsline_label_delay_seconds",
            "label time - prediction time",
            ["model"],
            buckets=_DELAY_BUCKETS,
            registry=r,
        )
        self.last_label = Gauge(
            "oddsline_last_label_timestamp_seconds",
            "when the last matched label of the model's predictions arrived (the server's start until one has)",
            ["model"],
            registry=r,
            multiprocess_mode="max",
        )
        labelled = ["model", "version"]
        self.labelled = Counter("oddsline_labelled", "labelled predictions", labelled, registry=r)
        self.labelled_positive = Counter("oddsline_labelled_positive", "labelled positives", labelled, registry=r)
        self.labelled_probability = Counter(
            "oddsline_labelled_probability",
            "sum of the predicted probability of labelled rows",
            labelled,
            registry=r,
        )
        self.labelled_log_loss = Counter(
            "oddsline_labelled_log_loss", "sum of the log loss of labelled rows", labelled, registry=r
        )
        # Drift of the recent traffic against the training reference (recomputed periodically). "live"
        # modes: a worker that died takes its values with it (the supervisor marks it dead), rather
        # than a stale drift keeping an alert firing.
        self.drift_psi = Gauge(
            "oddsline_drift_psi", "PSI of an input column", ["model", "column"], registry=r, multiprocess_mode="livemax"
        )
        self.drift_detected = Gauge(
            "oddsline_drift_detected",
            "1 when the column drifted (PSI large and significant)",
            ["model", "column"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.score_psi = Gauge(
            "oddsline_score_psi", "PSI of the score", ["model"], registry=r, multiprocess_mode="livemax"
        )
        self.drift_rows = Gauge(
            "oddsline_drift_rows",
            "rows the last drift measurement read (the recent rows of every worker)",
            ["model"],
            registry=r,
            multiprocess_mode="livemax",
        )
        # 1 for the version each model is served at (0 once replaced); a dead worker's value goes with it.
        self.model_info = Gauge(
            "oddsline_model_info",
            "the version and file SHA-256 a model is served at (1; 0 once reloaded away)",
            ["model", "version", "sha256"],
            registry=r,
            multiprocess_mode="livemax",
        )

    def start(self, models: list[str]) -> None:
        """Every series an alert reads made at 0 when the server starts: Prometheus' ``increase()``
        drops the first sample of a new series, so a counter born at its first event would lose it
        (the first 504s, the first rejected reload). The label clock starts at the start, so label lag
        is measured from it rather than from 1970."""
        for route in SCORING_ROUTE_TEMPLATES:
            # /invocations names no model: labelled with the served one when there is only one.
            for name in models if route != "/invocations" or len(models) == 1 else ():
                for status in STATUSES:
                    self.child(self.requests, name, route, status)
                self.child(self.latency, name, route)
        for name in models:
            for outcome in ("loaded", "rejected"):
                self.child(self.model_loads, name, outcome)
        self.child(self.labels, "", "unknown")  # a label of no known prediction has no model
        for name in models:
            for outcome in ("matched", "invalid", "repeated"):
                self.child(self.labels, name, outcome)
            self.child(self.label_delay, name)
        for outcome in ("written", "dropped", "recovered"):
            self.child(self.logged_rows, outcome)
        for reason in REFUSAL_REASONS:
            self.child(self.connections_refused, reason)
        for name in models:
            self.child(self.last_label, name).set(server_started())

    def serving(self, served: Served, previous: tuple[str, str] | None = None) -> None:
        """Record which version of a model this process serves (``oddsline_model_info``), and make the
        series its alerts read at 0 (see ``start``): its decisions, its labelled predictions, and the
        unseen and out-of-range inputs of each of its columns."""
        model, version, sha256 = served.name, served.version, served.sha256
        if previous is not None and previous != (version, sha256):
            self.model_info.labels(model, *previous).set(0)
        self.model_info.labels(model, version, sha256).set(1)
        binary = served.model.kind == Model.kind
        decisions = ("positive", "negative") if binary else tuple(str(c) for c in served.model.classes)
        for decision in decisions:
            self.child(self.predictions, model, version, decision)
        if binary:
            for metric in (self.labelled, self.labelled_positive, self.labelled_probability, self.labelled_log_loss):
                self.child(metric, model, version)
        for event in ("unseen", "out_of_range"):
            for column in served.source_columns:
                self.child(self.input_events, model, event, column)

    def connection_refused(self, reason: str) -> None:
        self.child(self.connections_refused, reason).inc()

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: prometheus_client's lookup costs microseconds, and
        the hot path takes four of them per request."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    @staticmethod
    def observe_many(histogram: Any, values: list[float] | np.ndarray) -> None:
        """``histogram.observe(v)`` for every value, as one increment per bucket: a thousand-row
        request would otherwise spend milliseconds here. Uses the child's bucket counters (the same
        ones ``observe`` increments) and falls back to ``observe`` if they are not there."""
        if len(values) < 64:  # below this the numpy calls cost more than the loop
            for value in values:
                histogram.observe(value)
            return
        bounds = getattr(histogram, "_upper_bounds", None)
        buckets = getattr(histogram, "_buckets", None)
        total = getattr(histogram, "_sum", None)
        if bounds is None or buckets is None or total is None:
            for value in values:
                histogram.observe(value)
            return
        counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
        for bucket, count in zip(buckets, counts.tolist(), strict=False):
            if count:
                bucket.inc(count)
        total.inc(float(np.sum(values)))

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            every_worker = CollectorRegistry()
            MultiProcessCollector(every_worker)  # type: ignore[no-untyped-call]
            return generate_latest(every_worker)
        return generate_latest(self.registry)
