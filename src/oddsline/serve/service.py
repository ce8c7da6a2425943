"""What a server holds, in one object the route handlers share: the served models (and their canary
or shadow challengers), the metrics, the prediction log, the recent rows and the settings; and what
acts on all of them at once: reload, the drift measurement, the error answer.

Handlers take it from ``request.app.state.service`` (``service_of``), so a protocol's routes can be
mounted and tested on their own.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from .._exceptions import ParameterError, RegistryBusyError
from ..models import Model
from .errors import ServiceError, error_body, status_of
from .label_join import PendingLabels
from .logged_predictions import LoggedPredictions
from .metrics import ServiceMetrics
from .models import ModelSet, Served, load_served
from .prediction_log import PredictionLog
from .protocol import on_refusal
from .recent import Recent
from .rows_table import rows_table
from .settings import Settings
from .shared_rows import SharedRows
from .supervisor import SUPERVISOR_ENV

__all__ = ["OTHER_COLUMN", "Service", "read_body", "service_of"]

OTHER_COLUMN = "other"  # the metric label of every column name that is not a served model's


class Service:
    def __init__(
        self, served: list[Served], settings: Settings | None = None, challengers: dict[str, Served] | None = None
    ) -> None:
        self.settings = settings or Settings()
        self.challengers = challengers or {}
        paired = [
            s.name
            for s in [*served, *self.challengers.values()]
            if s.name in self.challengers and not isinstance(s.model, Model)
        ]
        if paired:
            raise ParameterError(
                f"{paired[0]!r}: a canary or shadow challenger pairs binary models; a multinomial model is served "
                "on its own (serve it without --challenger)"
            )
        self.models = ModelSet(served)
        self.metrics = metrics = ServiceMetrics()
        metrics.start([s.name for s in served])
        on_refusal(metrics.connection_refused)
        for s in served:
            metrics.serving(s)
        # Whether requests are in flight: the gate's answer once it exists (the log's writer waits them out).
        self.busy: Callable[[], bool] = lambda: False
        folder = self.settings.prediction_log
        self.log = (
            PredictionLog(
                folder,
                pii_columns=self.settings.pii_columns,
                on_rows=lambda outcome, n: metrics.logged_rows.labels(outcome).inc(n),
                busy=lambda: self.busy(),
            )
            if folder
            else None
        )
        remembered = self.settings.remembered_predictions
        self.recent = Recent(max_predictions=remembered, max_rows=self.settings.drift_window_rows)
        # With several workers (their metrics in one folder), drift is measured on all their rows.
        shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.shared_rows = (
            SharedRows(shared, self.settings.drift_seconds) if shared and self.settings.drift_seconds > 0 else None
        )
        # Labels for predictions this process did not make (another worker's, or before a restart).
        self.logged = LoggedPredictions(folder, max_predictions=remembered) if folder else None
        self.pending_labels = PendingLabels()  # labels whose prediction was not in the log yet
        self.draining = False
        # Several workers: /admin/reload reaches one of them, which asks the supervisor to reload the
        # others (it forwards SIGHUP to every worker; the asking one skips the SIGHUP it caused).
        supervisor = os.environ.get(SUPERVISOR_ENV)
        self.supervisor_pid = int(supervisor) if supervisor and supervisor.isdigit() else None
        self._own_hangups = 0
        self._hangups_lock = threading.Lock()

    def ready(self) -> bool:
        return bool(self.models.snapshot()) and not self.draining

    def drain(self) -> None:
        """Readiness fails from now on (a load balancer stops sending); requests are still answered."""
        self.draining = True
        self.metrics.draining.set(1)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
        if self.shared_rows is not None:
            self.shared_rows.close()

    def reload(self) -> dict[str, Any]:
        """Load every served reference again; a version that fails verification is rejected, the old
        one keeps serving. Requests in flight finish on the snapshot they took."""
        outcome: dict[str, Any] = {}
        for current in list(self.models.snapshot().values()):
            try:
                fresh = load_served(current.reference, list(self.settings.trusted_keys) or None)
                if fresh.model.kind != current.model.kind:
                    raise ParameterError(
                        f"{current.reference} now holds a {fresh.model.kind} model, not {current.model.kind}; "
                        "a reload keeps the served kind: restart the server to change it"
                    )
            except Exception as exc:  # checksum, signature, schema or kind failure: keep the old model
                self.metrics.model_loads.labels(current.name, "rejected").inc()
                outcome[current.name] = {
                    "reloaded": False,
                    "version": current.version,
                    "error": error_body(exc)["error"],
                    "retry": isinstance(exc, RegistryBusyError),  # the same reload may succeed in a moment
                }
                continue
            self.models.swap(fresh)
            self.metrics.model_loads.labels(fresh.name, "loaded").inc()
            self.metrics.serving(fresh, previous=(current.version, current.sha256))
            outcome[fresh.name] = {"reloaded": True, "version": fresh.version, "previous": current.version}
        return outcome

    def on_hangup(self) -> None:
        """SIGHUP: reload, unless this worker sent it through the supervisor after reloading already."""
        with self._hangups_lock:
            if self._own_hangups:
                self._own_hangups -= 1
                return
        self.reload()

    def reload_everywhere(self) -> dict[str, Any]:
        """``reload`` here, then in the other workers of ``--workers N`` (through the supervisor)."""
        outcome = self.reload()
        if self.supervisor_pid is not None:
            with self._hangups_lock:
                self._own_hangups += 1
            try:
                os.kill(self.supervisor_pid, signal.SIGHUP)
            except ProcessLookupError:  # the supervisor is gone: this worker is on its way out too
                with self._hangups_lock:
                    self._own_hangups -= 1
        return outcome

    def alias_moved(self) -> bool:
        """Whether a registry alias now names another version than the one served."""
        from ..registry import Registry

        watched = [
            s for s in self.models.snapshot().values() if "@" in s.reference and not s.reference.endswith(".odl")
        ]
        if not watched:
            return False
        with Registry() as registry:
            return any(str(registry.resolve(s.reference)[1]) != s.version for s in watched)

    def measure_drift(self) -> None:
        """Drift of each model's recent rows against its training reference, into the gauges."""
        from ..monitor import drift_report

        metrics = self.metrics
        for served in self.models.snapshot().values():
            if not served.model.info.get("reference"):
                continue
            rows = self.recent.take_rows(served.name)
            table = rows_table(rows, served.numeric_columns) if rows else None
            if self.shared_rows is not None:
                table = self.shared_rows.pool(served.name, table, self.settings.drift_window_rows)
            if table is None or table.num_rows < self.settings.drift_min_rows:
                continue
            metrics.child(metrics.drift_rows, served.name).set(table.num_rows)
            report = drift_report(served.model, table)
            for column, result in report["columns"].items():
                if result.get("psi") is not None:
                    metrics.child(metrics.drift_psi, served.name, column).set(result["psi"])
                metrics.child(metrics.drift_detected, served.name, column).set(1.0 if result["drift"] else 0.0)
            if report["score"]["psi"] is not None:
                metrics.child(metrics.score_psi, served.name).set(report["score"]["psi"])

    def failure(self, exc: BaseException) -> tuple[int, dict[str, Any]]:
        """The status and body answering ``exc``, the failure counted by column."""
        body = error_body(exc)
        if body.get("field"):
            # The field may be a client's tensor name or "rows[7]": only a served model's column is a label.
            field = str(body["field"])
            known = any(field in served.columns for served in self.models.snapshot().values())
            self.metrics.validation_failures.labels(field if known else OTHER_COLUMN).inc()
        return status_of(exc), body

    async def body(self, request: Request) -> bytes:
        return await read_body(request.receive, self.settings.max_body_bytes)


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def read_body(receive: Any, limit: int) -> bytes:
    """The whole request body; 413 as soon as it passes ``limit`` (a body exactly at it passes)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ServiceError(400, "the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ServiceError(413, f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
