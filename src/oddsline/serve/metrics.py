"""The service's Prometheus metrics, in a registry of their own (one per app)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["ServiceMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "oddsline_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "oddsline_request_seconds", "request latency", ["route"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.in_flight = Gauge("oddsline_requests_in_flight", "requests being served", registry=r)
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

    def render(self) -> bytes:
        return generate_latest(self.registry)
