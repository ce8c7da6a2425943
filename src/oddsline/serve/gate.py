"""The service's outermost layer, in plain ASGI: limits, request ids, timing, metrics, timeouts, and
the hot route.

Every request passes here first: the concurrency limit (503 + Retry-After), the declared body size
(413 before a byte is read), a request id, the per-request timeout (504), the ``Server-Timing`` and
``X-Request-Id`` headers, and the request counter and latency histogram by route template. Plain ASGI
rather than a framework middleware because the latter costs a task and two memory streams per
request — several times the cost of scoring a row. For the same reason the single hot route (native
predict without query parameters) is answered here directly by ``fast``; every other route, and that
one's OpenAPI description, belong to the FastAPI app behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from .deadlines import Deadlines
from .errors import OVERLOADED, ServiceError, error_body
from .metrics import ServiceMetrics
from .request_ids import new_request_id

__all__ = ["Gate", "respond"]

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
FAST_ROUTE = "/v1/models/{name}/predict"
# Answered whatever the load and whatever the request timeout, and not counted in flight: a scrape or
# a probe that the concurrency limit or the deadline refused would report an overloaded or slow server
# as down (and the scrape would count itself).
UNGATED = frozenset({"/metrics", "/v2/health/live", "/v2/health/ready", "/ping", "/health"})
# The route label of a request that matched no route (404s, or refused before routing): metric labels
# come from bounded sets only, never from the path a client sent.
OTHER_ROUTE = "other"
_SHED_TEMPLATES = 1024  # route templates remembered by (method, path) for requests shed by the protocol

_log = logging.getLogger("oddsline.serve")


async def respond(send: Any, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """A JSON response in two ASGI messages."""
    data = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class Gate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        max_in_flight: int,
        max_body_bytes: int,
        timeout: float,
        fast: Callable[[str, dict[str, Any], Any, Any], Awaitable[None]] | None = None,
        served: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self.app, self.metrics, self.fast, self.served = app, metrics, fast, served
        self.max_in_flight, self.max_body_bytes, self.timeout = max_in_flight, max_body_bytes, timeout
        self.deadlines = Deadlines(timeout)
        self.in_flight = 0  # requests inside the gate
        self.admitted = 0  # requests admitted by the HTTP protocol and not yet answered (see admit)
        self._shed_templates: dict[tuple[str, str], tuple[str, str]] = {}
        self._last_active = 0.0  # time.perf_counter() when a request last started or ended

    def busy(self, quiet_seconds: float = 0.005) -> bool:
        """Whether requests are in flight, or one was less than ``quiet_seconds`` ago (traffic is
        flowing): what background work waits out."""
        return self.in_flight > 0 or time.perf_counter() - self._last_active < quiet_seconds

    def admit(self, method: str, path: str) -> bool | str:
        """The HTTP protocol's admission (protocol.Admission), as a request's head completes: a
        request counts against the limit from then until its response is written, so that requests
        waiting for the event loop count too, not only those inside the app."""
        if path in UNGATED:
            return False
        if self.admitted < self.max_in_flight:
            self.admitted += 1
            return True
        started = time.perf_counter()
        labels = self._shed_templates.get((method, path))
        if labels is None:
            if len(self._shed_templates) >= _SHED_TEMPLATES:  # paths are the client's: keep the memo bounded
                self._shed_templates.clear()
            scope = {"type": "http", "method": method, "path": path, "root_path": "", "query_string": b""}
            fast_name = self._fast_name(scope)
            labels = (self._model(FAST_ROUTE, fast_name), FAST_ROUTE) if fast_name else self._route(scope)
            self._shed_templates[(method, path)] = labels
        self.metrics.rejected.inc()
        self.metrics.child(self.metrics.requests, *labels, "503").inc()
        self.metrics.child(self.metrics.latency, *labels).observe(time.perf_counter() - started)
        return new_request_id()

    def release(self) -> None:
        self.admitted -= 1

    def __getattr__(self, name: str) -> Any:  # state, openapi(), routes ...: the FastAPI app's
        return getattr(self.app, name)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1") or new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"], state["started"] = request_id, started
        outcome = {"status": 500, "started": False}

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                outcome["status"], outcome["started"] = message["status"], True
                elapsed_ms = (time.perf_counter() - started) * 1000
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"x-request-id", request_id.encode("latin-1")),
                        (b"server-timing", f"app;dur={elapsed_ms:.3f}".encode()),
                    ],
                }
            await send(message)

        path = scope["path"]
        fast_name = self._fast_name(scope)
        task = asyncio.current_task()
        assert task is not None  # an ASGI server runs each request in a task
        gated = path not in UNGATED
        if gated:
            self.metrics.in_flight.inc()
            self.in_flight += 1
        self._last_active = started
        if gated:  # scrapes and probes have no deadline: a short --request-timeout must not blind them
            self.deadlines.enter(task, started)
        try:
            if gated and self.in_flight > self.max_in_flight:
                self.metrics.rejected.inc()
                raise ServiceError(503, OVERLOADED)
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                raise ServiceError(413, f"the body has {length.decode()} bytes; the limit is {self.max_body_bytes}")
            if fast_name is not None and self.fast is not None:
                path = FAST_ROUTE
                await self.fast(fast_name, scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        except asyncio.CancelledError:
            if not self.deadlines.expired(task):
                raise  # a shutdown, not the timeout
            task.uncancel()
            if not outcome["started"]:
                message = f"the request was not answered within {self.timeout:g} s; send fewer rows"
                await respond(send_with_headers, 504, {"error": message, "field": None})
        except ClientDisconnect:
            # The client went away before its whole body arrived, or the protocol closed it for a slow
            # body (and answered 408 itself): the client's error, not the server's; nothing more is sent.
            outcome["status"] = 400
        except ServiceError as exc:
            retry = [(b"retry-after", b"1")] if exc.status == 503 else None
            await respond(send_with_headers, exc.status, error_body(exc), retry)
        except Exception as exc:  # a bug: answered 500 (if not yet), logged with its request id, counted
            _log.error("request %s failed: %s %s", request_id, scope["method"], path, exc_info=exc)
            if not outcome["started"]:
                await respond(send_with_headers, 500, error_body(exc))
            outcome["status"] = 500
        finally:
            if gated:
                self.deadlines.leave(task)
                self.metrics.in_flight.dec()
                self.in_flight -= 1
            self._last_active = time.perf_counter()
        labels = (self._model(FAST_ROUTE, fast_name), FAST_ROUTE) if path == FAST_ROUTE else self._route(scope)
        self.metrics.child(self.metrics.requests, *labels, str(outcome["status"])).inc()
        self.metrics.child(self.metrics.latency, *labels).observe(time.perf_counter() - started)

    def _route(self, scope: dict[str, Any]) -> tuple[str, str]:
        """The (model, route template) labels of a request, the route found again for one refused
        before routing (413, 503); ``OTHER_ROUTE`` for a path no route matches."""
        route, params = scope.get("route"), scope.get("path_params") or {}
        if route is None:
            for candidate in getattr(self.app, "routes", ()):
                match, child = candidate.matches(scope)
                if match == Match.FULL:
                    route, params = candidate, child.get("path_params") or {}
                    break
            else:
                return "", OTHER_ROUTE
        template = str(route.path)
        return self._model(template, params.get("name")), template

    def _model(self, template: str, name: str | None) -> str:
        """The model label: the name in the path if a served model has it, the only served model for
        MLflow's /invocations, else "" (a route of no model, or a name the client made up: labels come
        from bounded sets)."""
        served = self.served()
        if name is not None:
            return name if name in served else ""
        if template == "/invocations" and len(served) == 1:
            return next(iter(served))
        return ""

    @staticmethod
    def _fast_name(scope: dict[str, Any]) -> str | None:
        """The model name of a plain native predict call (POST, no query string), else None."""
        path: str = scope["path"]
        if scope["method"] != "POST" or scope["query_string"] or not path.startswith("/v1/models/"):
            return None
        name, _, tail = path[len("/v1/models/") :].partition("/")
        return name if tail == "predict" and name else None
