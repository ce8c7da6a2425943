"""The ASGI app: native JSON, Open Inference Protocol V2, MLflow scoring protocol, Prometheus metrics.

Every request body is read with a size limit (413 before parsing), parsed as strict JSON (NaN and
Infinity refused), validated against the model's schema by the feature encoders, and answered with
``{"error", "field"}`` on failure through the one status table of ``errors.py``.

Binary and multinomial models are served alike on every protocol; a multinomial model's answer carries
the most probable class, its probability and the probability of every class (``class_scores.py``).
What rests on a positive class stays binary: a multinomial model's predictions are not written to the
prediction log nor remembered (so ``/v1/labels`` and the server's drift measurement pass them by; its
drift is measured by ``oddsline monitor --data``), and it cannot be a canary or shadow pair.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import hashlib
import json
import math
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from .._exceptions import OddslineError, ParameterError
from .._version import __version__
from ..features import TransformReport
from ..models import Model, MulticlassModel
from .class_scores import mlflow_predictions, oip_outputs, score_classes
from .columns import ColumnRows, RequestRows, as_dicts
from .errors import ServiceError, error_body, status_of
from .gate import Gate, respond
from .json_types import check_value_types
from .logged_predictions import LoggedPredictions
from .metrics import ServiceMetrics
from .models import ModelSet, Served, load_served
from .openapi import service_openapi
from .out_of_range import out_of_range_rows
from .payloads import (
    attach_binary,
    check_row_count,
    labels_from_json,
    parse_json,
    rows_from_mlflow,
    rows_from_native,
    rows_from_oip,
    split_binary_request,
)
from .prediction_log import PredictionLog, Scored
from .protocol import on_refusal
from .recent import Recent
from .rows_table import rows_table
from .scores import Scores

__all__ = ["Settings", "create_app"]

_INLINE_ROWS = 64
OTHER_COLUMN = "other"  # the metric label of every column name that is not a served model's
_GC_YOUNG_THRESHOLD = 20_000


@dataclass(frozen=True)
class Settings:
    max_body_bytes: int = 8 << 20  # 10,000 rows (max_rows) of up to ~800 bytes
    max_rows: int = 10_000
    max_in_flight: int = 256  # beyond it: 503 with Retry-After, not a queue that grows without bound
    prediction_log: str | None = None  # folder of the prediction log; None: no log
    pii_columns: tuple[str, ...] = ()
    admin_token: str | None = None  # bearer token of /admin/*; None: admin routes disabled
    watch_seconds: float = 5.0  # how often registry aliases are checked for a move (0: never)
    canary_percent: float = 0.0  # share of rows a challenger scores instead of its champion
    canary_key: str | None = None  # rows with the same value of this column always go the same way
    shadow: bool = False  # the challenger scores every row too, but only into the log and metrics
    request_timeout: float = 30.0  # seconds from the first byte to the answer; past it: 504
    labels_folder: str | None = None  # where POST /v1/labels stores labels; None: counted in metrics only
    drift_seconds: float = 60.0  # how often the recent rows' drift is measured (0: never)
    drift_window_rows: int = 5_000  # the recent rows per model that drift is measured on
    drift_min_rows: int = 500  # fewer recent rows than this: no measurement
    drain_seconds: float = 0.0  # after SIGTERM: readiness fails at once, requests are still served this long
    # Public keys a served file must be signed by (--trust-key); () accepts unsigned files. Every load
    # honours them: at start, and on each reload (SIGHUP, /admin/reload, an alias that moved).
    trusted_keys: tuple[str, ...] = ()


def create_app(
    served: list[Served], settings: Settings | None = None, challengers: dict[str, Served] | None = None
) -> Gate:
    """The service as an ASGI app: the FastAPI routes behind the :class:`Gate` (limits, timing, metrics,
    the hot predict route)."""
    settings = settings or Settings()
    challengers = challengers or {}
    paired = [
        s.name for s in [*served, *challengers.values()] if s.name in challengers and not isinstance(s.model, Model)
    ]
    if paired:
        raise ParameterError(
            f"{paired[0]!r}: a canary or shadow challenger pairs binary models; a multinomial model is served "
            "on its own (serve it without --challenger)"
        )
    models = ModelSet(served)
    metrics = ServiceMetrics()
    metrics.start([s.name for s in served])
    on_refusal(metrics.connection_refused)
    for s in served:
        metrics.serving(s.name, s.version, s.sha256)
    gate: list[Gate] = []  # the one Gate, made last; the log's writer asks it whether requests are in flight
    log = (
        PredictionLog(
            settings.prediction_log,
            pii_columns=settings.pii_columns,
            on_rows=lambda outcome, n: metrics.logged_rows.labels(outcome).inc(n),
            busy=lambda: bool(gate) and gate[0].busy(),
        )
        if settings.prediction_log
        else None
    )
    draining = [False]
    recent = Recent(max_rows=settings.drift_window_rows)
    # Labels for predictions this process did not make (another worker's, or before a restart).
    logged = LoggedPredictions(settings.prediction_log) if settings.prediction_log else None

    def reload() -> dict[str, Any]:
        """Load every served reference again; a version that fails verification is rejected, the old
        one keeps serving. Requests in flight finish on the snapshot they took."""
        outcome: dict[str, Any] = {}
        for current in list(models.snapshot().values()):
            try:
                fresh = load_served(current.reference, list(settings.trusted_keys) or None)
                if fresh.model.kind != current.model.kind:
                    raise ParameterError(
                        f"{current.reference} now holds a {fresh.model.kind} model, not {current.model.kind}; "
                        "a reload keeps the served kind: restart the server to change it"
                    )
            except Exception as exc:  # checksum, signature, schema or kind failure: keep the old model
                metrics.model_loads.labels(current.name, "rejected").inc()
                outcome[current.name] = {
                    "reloaded": False,
                    "version": current.version,
                    "error": error_body(exc)["error"],
                }
                continue
            models.swap(fresh)
            metrics.model_loads.labels(fresh.name, "loaded").inc()
            metrics.serving(fresh.name, fresh.version, fresh.sha256, previous=(current.version, current.sha256))
            outcome[fresh.name] = {"reloaded": True, "version": fresh.version, "previous": current.version}
        return outcome

    def moved() -> bool:
        """Whether a registry alias now names another version than the one served."""
        from ..registry import Registry

        watched = [s for s in models.snapshot().values() if "@" in s.reference and not s.reference.endswith(".odl")]
        if not watched:
            return False
        with Registry() as registry:
            return any(str(registry.resolve(s.reference)[1]) != s.version for s in watched)

    async def watch() -> None:
        while True:
            await asyncio.sleep(settings.watch_seconds)
            with contextlib.suppress(Exception):  # a registry hiccup must not stop the watcher
                if await asyncio.to_thread(moved):
                    await asyncio.to_thread(reload)

    def measure_drift() -> None:
        """Drift of each model's recent rows against its training reference, into the gauges."""
        from ..monitor import drift_report

        for served in models.snapshot().values():
            rows = recent.take_rows(served.name)
            if len(rows) < settings.drift_min_rows or not served.model.info.get("reference"):
                continue
            report = drift_report(served.model, rows_table(rows, served.numeric_columns))
            for column, result in report["columns"].items():
                if result.get("psi") is not None:
                    metrics.child(metrics.drift_psi, served.name, column).set(result["psi"])
                metrics.child(metrics.drift_detected, served.name, column).set(1.0 if result["drift"] else 0.0)
            if report["score"]["psi"] is not None:
                metrics.child(metrics.score_psi, served.name).set(report["score"]["psi"])

    async def drift_watch() -> None:
        while True:
            await asyncio.sleep(settings.drift_seconds)
            with contextlib.suppress(Exception):  # odd traffic must not stop the measurements
                await asyncio.to_thread(measure_drift)

    def drain_then(stop: Any) -> Any:
        """A SIGTERM handler in front of the server's own: readiness turns 503 at once (a load balancer
        stops sending), requests keep being served for ``drain_seconds``, then the server's handler
        stops accepting, finishes the requests in flight and exits."""
        loop = asyncio.get_running_loop()

        def on_term(sig: int, frame: Any) -> None:
            if draining[0]:
                return
            draining[0] = True
            metrics.draining.set(1)
            if callable(stop):
                loop.call_soon_threadsafe(loop.call_later, settings.drain_seconds, stop, sig, frame)

        return on_term

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not in the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)
            signal.signal(signal.SIGTERM, drain_then(signal.getsignal(signal.SIGTERM)))
        # Everything loaded so far (numpy, scipy, pyarrow, FastAPI, the models: about a million objects)
        # lives as long as the process. Frozen, the cyclic collector stops walking it: a full collection
        # over it took tens of milliseconds, paid by whichever request was in flight (p99 50 ms -> ~5 ms).
        # The modules the background tasks import on first use are imported first, or they would land
        # outside the frozen part (scipy.stats alone: full collections of 70-85 ms, every few seconds).
        from ..monitor import drift_report  # noqa: F401
        from ..monitor.labels import store_labels  # noqa: F401
        from ..registry import Registry  # noqa: F401

        gc.collect()
        gc.freeze()
        # A 1,000-row request allocates a few thousand containers while its rows are alive; at the
        # default threshold (700) that started 3-4 young collections per request, each walking those
        # rows (about 1 ms of a 1,000-row request's 5-10). Garbage here is freed by reference counting
        # as requests end, so collecting 30x less often costs no memory to speak of.
        gc.set_threshold(_GC_YOUNG_THRESHOLD, 10, 10)
        # The prediction log's writer and the drift measurement run in threads; a thread that wants the
        # GIL waits up to the switch interval (5 ms by default) for it, and the event loop answering the
        # requests is such a thread. At 1 ms the background work costs a request at most that.
        sys.setswitchinterval(0.001)
        watcher = asyncio.create_task(watch()) if settings.watch_seconds > 0 else None
        drift = asyncio.create_task(drift_watch()) if settings.drift_seconds > 0 else None
        yield
        if watcher is not None:
            watcher.cancel()
        if drift is not None:
            drift.cancel()
        if log is not None:
            log.close()

    app = FastAPI(
        title="oddsline scoring service", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan
    )
    app.state.models, app.state.metrics, app.state.settings, app.state.log = models, metrics, settings, log

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = service_openapi(app, models.snapshot, settings.max_rows)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(RequestValidationError)
    async def on_invalid_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        # A query or path parameter FastAPI itself checks (?explain=maybe): the service's error body,
        # not FastAPI's {"detail": [...]}.
        first = exc.errors()[0] if exc.errors() else {}
        field = str(first.get("loc", ("", ""))[-1]) or None
        message = f"{field}: {first.get('msg', 'invalid value')}" if field else str(first.get("msg", "invalid value"))
        return JSONResponse({"error": message, "field": field}, status_code=422)

    @app.exception_handler(OddslineError)
    @app.exception_handler(ServiceError)
    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        status, body = failure(exc)
        return JSONResponse(body, status_code=status)

    def failure(exc: BaseException) -> tuple[int, dict[str, Any]]:
        body = error_body(exc)
        if body.get("field"):
            # The field may be a client's tensor name or "rows[7]": only a served model's column is a label.
            field = str(body["field"])
            known = any(field in served.columns for served in models.snapshot().values())
            metrics.validation_failures.labels(field if known else OTHER_COLUMN).inc()
        return status_of(exc), body

    async def fast_predict(name: str, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        """POST /v1/models/{name}/predict without query parameters, answered by the gate directly;
        the same steps and answers as ``predict`` below."""
        try:
            served = models.get(name)
            raw = await read_body(receive, settings.max_body_bytes)
            rows: RequestRows | None = served.rows_decoder.decode(raw)
            if rows is None:
                rows = rows_from_native(parse_json(raw), settings.max_rows)
            else:
                check_row_count(len(rows), settings.max_rows)
            body = {
                "model": served.name,
                "version": served.version,
                "request_id": scope["state"]["request_id"],
                # The rows' JSON as msgspec encoded it, spliced in whole (no dict per prediction).
                "predictions": orjson.Fragment((await scored(served, rows, scope)).json()),
            }
        except (TimeoutError, asyncio.CancelledError):
            raise
        except Exception as exc:
            status, error = failure(exc)
            await respond(send, status, error)
            return
        await respond(send, 200, body)

    async def body_of(request: Request) -> bytes:
        return await read_body(request.receive, settings.max_body_bytes)

    async def scored(
        served: Served, rows: RequestRows, scope: MutableMapping[str, Any], explain: bool = False
    ) -> Scores:
        """Small requests are scored inline (microseconds); large ones on a worker thread, so the event
        loop keeps answering other requests (and the timeout can fire) meanwhile, unless the compiled
        scorer already scored them at decode: what is left (probabilities, decisions, the answer's
        JSON) is about 0.5 us a row, all of it holding the GIL, and the two thread hand-offs cost 1,000
        rows 0.3 ms more in server time than doing it here. ``scope`` is the request's ASGI scope (its
        state holds the request id and start time the gate set)."""
        try:
            known = isinstance(rows, ColumnRows) and rows.compiled and not explain and served.name not in challengers
            if len(rows) <= _INLINE_ROWS or known:
                return score(served, rows, scope, explain)
            return await asyncio.to_thread(score, served, rows, scope, explain)
        finally:
            if isinstance(rows, ColumnRows):
                rows.release()  # the log and the recent rows keep the body only

    def to_challenger(row: dict[str, Any]) -> bool:
        """Sticky canary routing: a hash of the entity key (or of the whole row) against the percentage."""
        key = row.get(settings.canary_key) if settings.canary_key else json.dumps(row, sort_keys=True, default=str)
        bucket = int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:8], "big") % 10_000
        return bucket < settings.canary_percent * 100

    def score(served: Served, rows: RequestRows, scope: MutableMapping[str, Any], explain: bool = False) -> Scores:
        challenger = challengers.get(served.name)
        if challenger is None:
            return score_with(served, rows, scope, explain)
        if settings.shadow:
            results = score_with(served, rows, scope, explain)
            with contextlib.suppress(Exception):  # the shadow never fails a request
                score_with(challenger, rows, scope, False, route="shadow")
            return results
        rows = as_dicts(rows)
        routed = [to_challenger(row) for row in rows]
        merged: list[dict[str, Any] | None] = [None] * len(rows)
        for target, flag in ((challenger, True), (served, False)):
            chosen = [i for i, r in enumerate(routed) if r == flag]
            if chosen:
                # Each group's rows keep their place in the request: "<request id>:<row>" names the
                # same row in the log, in the recent predictions and in the answer.
                positions = chosen if len(rows) > 1 else None
                scored = score_with(target, [rows[i] for i in chosen], scope, explain, positions=positions)
                for i, result in zip(chosen, scored.dicts(), strict=True):
                    merged[i] = result | {
                        "model_version": target.version,
                        "variant": "challenger" if flag else "champion",
                    }
        return Scores.from_dicts([r for r in merged if r is not None])

    def score_with(
        served: Served,
        rows: RequestRows,
        scope: MutableMapping[str, Any],
        explain: bool = False,
        route: str | None = None,
        positions: list[int] | None = None,
    ) -> Scores:
        """Score, remember and log ``rows``: the whole request, or (``positions``) the rows of it at
        those places."""
        results = _score(served, rows, explain)
        if results.decision is None:  # a multinomial model: nothing of a positive class to log or label
            return results
        state = scope["state"]
        request_id = state["request_id"]
        if route != "shadow":  # a shadow row has its champion's id: the champion's prediction is remembered
            recent.remember(request_id, rows, served.name, served.version, results.probability, positions)
        if log is not None:
            log.append(
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

    def _score(served: Served, rows: RequestRows, explain: bool = False) -> Scores:
        model = served.model
        check_value_types(rows, served.source_columns, served.numeric_columns)
        report = TransformReport()
        if not isinstance(model, Model):
            return _score_classes(served, rows, report, explain)
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
        count_events(served, report)
        positives = sum(decided)
        for decision, count in (("positive", positives), ("negative", len(decided) - positives)):
            if count:
                metrics.child(metrics.predictions, served.name, served.version, decision).inc(count)
        metrics.observe_many(metrics.child(metrics.scores, served.name), observed)
        negative, positive = model.classes
        labels = [positive if d else negative for d in decided]
        extra = _flagged(served, rows, report)
        if explain:
            contributions = model.explain(rows_table(as_dicts(rows), served.numeric_columns))
            explained = []
            for values in contributions.values:
                top = np.argsort(-np.abs(values))[:5]
                explained.append(
                    {
                        "contributions": {contributions.names[j]: float(values[j]) for j in top},
                        "base": contributions.base,
                    }
                )
            extra = explained if extra is None else [{**a, **b} for a, b in zip(extra, explained, strict=True)]
        return Scores(calibrated, raw, decided, labels, extra)

    def _flagged(served: Served, rows: RequestRows, report: TransformReport) -> list[dict[str, Any]] | None:
        """Each row's out-of-range columns for the answer, when the encoders counted any."""
        counted = report.counts.get("out_of_range")
        return out_of_range_rows(served.model.features, rows, list(counted)) if counted else None

    def _score_classes(served: Served, rows: RequestRows, report: TransformReport, explain: bool) -> Scores:
        model = served.model
        if not isinstance(model, MulticlassModel):
            raise ServiceError(500, f"model {served.name!r} is of kind {model.kind!r}, which this server cannot score")
        results = score_classes(model, rows, report, explain, served.numeric_columns)
        count_events(served, report)
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

    def count_events(served: Served, report: TransformReport) -> None:
        for event, per_column in report.counts.items():
            for column, n in per_column.items():
                # An unexpected column's name comes from the client: one "other" series for them all.
                label = column if column in served.columns else OTHER_COLUMN
                metrics.child(metrics.input_events, served.name, event, label).inc(n)

    # -- native ---------------------------------------------------------------------------------------

    @app.get("/v1/models", summary="the served models")
    def list_models() -> list[dict[str, Any]]:
        return [_describe(s) for s in models.snapshot().values()]

    @app.get("/v1/models/{name}", summary="a model's schema, version and metadata")
    def show_model(name: str) -> dict[str, Any]:
        served = models.get(name)
        model = served.model
        described = _describe(served) | {
            "kind": model.kind,
            "schema": [{"name": c.name, "kind": c.kind, "design": c.design_names} for c, _ in model.features.blocks()],
            "target": model.target.to_dict(),
            "classes": model.classes,
        }
        if isinstance(model, Model):
            calibration = None if model.calibrator is None else model.calibrator.method
            return described | {"threshold": model.threshold, "calibration": calibration}
        temperature = model.temperature if isinstance(model, MulticlassModel) else None
        return described | {"calibration": None if temperature is None else "temperature", "temperature": temperature}

    @app.post("/v1/models/{name}/predict", summary="score one row (object) or several (list)")
    async def predict(name: str, request: Request, explain: bool = False) -> dict[str, Any]:
        served = models.get(name)
        rows = rows_from_native(parse_json(await body_of(request)), settings.max_rows)
        return {
            "model": served.name,
            "version": served.version,
            "request_id": request.state.request_id,
            "predictions": (await scored(served, rows, request.scope, explain)).dicts(),
        }

    @app.post("/v1/labels", summary="labels of earlier predictions, by prediction id (late labels)")
    async def post_labels(request: Request) -> dict[str, Any]:
        records = labels_from_json(parse_json(await body_of(request)), settings.max_rows)
        now = dt.datetime.now(dt.UTC)
        matched = invalid = 0
        found = [recent.find(record["id"]) for record in records]
        if logged is not None and None in found:  # made by another worker, or before a restart
            await asyncio.to_thread(logged.refresh)
            found = [seen or logged.find(record["id"]) for seen, record in zip(found, records, strict=True)]
        for record, seen in zip(records, found, strict=True):
            served = models.snapshot().get(seen.model) if seen else None
            # Only binary predictions are remembered (score_with); the kind check says so to the type checker.
            if seen is None or served is None or not isinstance(served.model, Model):
                metrics.child(metrics.labels, "unknown").inc()
                continue
            positive = served.model.target.label_of(record["label"])
            if positive is None:  # neither class: never silently a negative
                invalid += 1
                metrics.child(metrics.labels, "invalid").inc()
                continue
            matched += 1
            metrics.child(metrics.labels, "matched").inc()
            metrics.label_delay.observe((record["labelled_at"] or now).timestamp() - seen.time)
            q = min(max(seen.probability, 1e-15), 1 - 1e-15)
            metrics.child(metrics.labelled, seen.model, seen.version).inc()
            metrics.child(metrics.labelled_positive, seen.model, seen.version).inc(1.0 if positive else 0.0)
            metrics.child(metrics.labelled_probability, seen.model, seen.version).inc(seen.probability)
            metrics.child(metrics.labelled_log_loss, seen.model, seen.version).inc(
                -math.log(q) if positive else -math.log1p(-q)
            )
        if matched:  # labels that match no prediction say nothing about whether labels flow
            metrics.last_label.set(now.timestamp())
        if settings.labels_folder:
            from ..monitor.labels import store_labels

            await asyncio.to_thread(store_labels, records, settings.labels_folder)
        return {
            "received": len(records),
            "matched": matched,
            "unknown": len(records) - matched - invalid,
            "invalid": invalid,
            "stored": bool(settings.labels_folder),
        }

    # -- Open Inference Protocol V2 -------------------------------------------------------------------

    @app.get("/v2", summary="OIP server metadata")
    def oip_server() -> dict[str, Any]:
        return {"name": "oddsline", "version": __version__, "extensions": []}

    @app.get("/v2/health/live", summary="OIP liveness")
    def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", summary="OIP readiness (503 while draining)")
    def ready() -> JSONResponse:
        up = bool(models.snapshot()) and not draining[0]
        return JSONResponse({"ready": up}, status_code=200 if up else 503)

    @app.get("/v2/models/{name}", summary="OIP model metadata")
    @app.get("/v2/models/{name}/versions/{version}", summary="OIP model metadata of a version")
    def oip_model(name: str, version: str | None = None) -> dict[str, Any]:
        served = _oip_served(models, name, version)
        inputs = []
        for column, _ in served.model.features.blocks():
            for source in column.sources:
                kind = "BYTES" if column.kind in ("categorical", "target", "hashed", "datetime") else "FP64"
                inputs.append({"name": source, "datatype": kind, "shape": [-1, 1]})
        unique = list({i["name"]: i for i in inputs}.values())
        return {
            "name": served.name,
            "versions": [served.version],
            "platform": "oddsline",
            "inputs": unique,
            "outputs": [
                {"name": "probability", "datatype": "FP64", "shape": [-1, 1]}
                if isinstance(served.model, Model)
                else {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(served.model.classes)]},
                {"name": "label", "datatype": "BYTES", "shape": [-1, 1]},
            ],
        }

    @app.get("/v2/models/{name}/ready", summary="OIP model readiness")
    @app.get("/v2/models/{name}/versions/{version}/ready", summary="OIP model readiness of a version")
    def oip_ready(name: str, version: str | None = None) -> dict[str, Any]:
        served = _oip_served(models, name, version)
        return {"name": served.name, "ready": True}

    @app.post("/v2/models/{name}/infer", summary="OIP inference")
    @app.post("/v2/models/{name}/versions/{version}/infer", summary="OIP inference on a version")
    async def oip_infer(name: str, request: Request, version: str | None = None) -> dict[str, Any]:
        served = _oip_served(models, name, version)
        payload, blob = split_binary_request(
            await body_of(request), request.headers.get("inference-header-content-length")
        )
        attach_binary(payload, blob)
        rows, request_id = rows_from_oip(payload, settings.max_rows)
        results = await scored(served, rows, request.scope)
        n = len(results)
        if results.decision is None:
            return {
                "model_name": served.name,
                "model_version": served.version,
                "id": request_id or request.state.request_id,
                "outputs": oip_outputs(results),
            }
        return {
            "model_name": served.name,
            "model_version": served.version,
            "id": request_id or request.state.request_id,
            "outputs": [
                {
                    "name": "probability",
                    "datatype": "FP64",
                    "shape": [n, 1],
                    "data": results.probability,
                },
                {
                    "name": "label",
                    "datatype": "BYTES",
                    "shape": [n, 1],
                    "data": [str(label) for label in results.label],
                },
            ],
        }

    # -- MLflow scoring protocol ----------------------------------------------------------------------

    @app.post("/invocations", summary="MLflow scoring: dataframe_split, dataframe_records, instances, inputs, text/csv")
    async def invocations(request: Request) -> dict[str, Any]:
        snapshot = models.snapshot()
        if len(snapshot) != 1:
            raise ServiceError(
                409,
                "/invocations scores the one served model; this server serves several: use /v1/models/{name}/predict",
            )
        served = next(iter(snapshot.values()))
        body = await body_of(request)
        content_type = request.headers.get("content-type", "application/json")
        payload = None if content_type.startswith("text/csv") else parse_json(body)
        rows = rows_from_mlflow(payload, content_type, body, settings.max_rows)
        results = await scored(served, rows, request.scope)
        if results.decision is None:  # a multinomial model: one record of class probabilities per row
            return {"predictions": mlflow_predictions(results)}
        return {"predictions": results.probability}

    @app.get("/ping", summary="MLflow liveness")
    @app.get("/health", summary="MLflow health")
    def ping() -> PlainTextResponse:
        return PlainTextResponse("\n", status_code=200 if models.snapshot() and not draining[0] else 503)

    @app.get("/version", summary="the server's version")
    def version() -> PlainTextResponse:
        return PlainTextResponse(__version__)

    @app.post("/admin/reload", summary="reload every served model (bearer token); a bad version is rejected")
    def admin_reload(request: Request) -> dict[str, Any]:
        expected = settings.admin_token
        given = request.headers.get("authorization", "")
        if not expected:
            raise ServiceError(404, "admin routes are disabled: start the server with an admin token")
        if not secrets.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            raise ServiceError(401, "admin routes need 'Authorization: Bearer <token>'", "authorization")
        return reload()

    @app.get("/metrics", summary="Prometheus metrics")
    def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    gate.append(
        Gate(
            app,
            metrics=metrics,
            max_in_flight=settings.max_in_flight,
            max_body_bytes=settings.max_body_bytes,
            timeout=settings.request_timeout,
            fast=fast_predict,
        )
    )
    return gate[0]


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


def _describe(served: Served) -> dict[str, Any]:
    return {"name": served.name, "version": served.version, "reference": served.reference, "sha256": served.sha256}


def _oip_served(models: ModelSet, name: str, version: str | None) -> Served:
    served = models.get(name)
    if version is not None and version != served.version:
        raise ServiceError(404, f"model {name!r} is served at version {served.version}, not {version!r}", "version")
    return served
