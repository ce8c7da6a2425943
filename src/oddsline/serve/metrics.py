"""The service's Prometheus metrics, in a registry of their own (one per app).

With several worker processes each keeps its own counters; ``oddsline serve --workers N`` sets
``PROMETHEUS_MULTIPROC_DIR`` before the workers start, prometheus_client then writes every value to a
per-process file there, and /metrics (answered by whichever worker gets the scrape) sums the files of
all workers — so a scrape sees the whole server, not one worker's share.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["ServiceMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self.requests = Counter(
            "oddsline_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "oddsline_request_seconds", "request latency", ["route"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.in_flight = Gauge(
            "oddsline_requests_in_flight", "requests being served", registry=r, multiprocess_mode="livesum"
        )
        self.draining = Gauge(
            "oddsline_draining", "1 while shutting down (readiness fails)", registry=r, multiprocess_mode="max"
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
        self.model_loads = Counter("oddsline_model_loads", "model loads by outcome", ["model", "outcome"], registry=r)

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: prometheus_client's lookup costs microseconds, and
        the hot path takes four of them per request."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    @staticmethod
    def observe_many(histogram: Any, values: list[float]) -> None:
        """``histogram.observe(v)`` for every value, as one increment per bucket: a thousand-row
        request would otherwise spend milliseconds here. Uses the child's bucket counters (the same
        ones ``observe`` increments) and falls back to ``observe`` if they are not there."""
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
            MultiProcessCollector(every_worker)
            return generate_latest(every_worker)
        return generate_latest(self.registry)
