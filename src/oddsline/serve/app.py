"""The ASGI app: native JSON, Open Inference Protocol V2, MLflow scoring protocol, Prometheus metrics.

Every request body is read with a size limit (413 before parsing), parsed as strict JSON (NaN and
Infinity refused), validated against the model's schema by the feature encoders, and answered with
``{"error", "field"}`` on failure through the one status table of ``errors.py``.

Binary and multinomial models are served alike on every protocol; a multinomial model's answer carries
the most probable class, its probability and the probability of every class (``class_scores.py``).
What rests on a positive class stays binary: a multinomial model's predictions are not written to the
prediction log nor remembered (so ``/v1/labels`` and the server's drift measurement pass them by; its
drift is measured by ``oddsline monitor --data``), and it cannot be a canary or shadow pair.

The pieces: :class:`~.service.Service` holds the state, ``scoring.py`` scores a request, ``routes/``
has one module per protocol, ``lifecycle.py`` what runs beside the requests, and the
:class:`~.gate.Gate` in front does limits, timing and the hot route.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._exceptions import OddslineError
from .._version import __version__
from .errors import ServiceError
from .gate import Gate
from .lifecycle import lifespan
from .models import Served
from .openapi import service_openapi
from .protocol import admit_with
from .routes import admin, labels, mlflow, native, oip
from .service import Service, service_of
from .settings import Settings

__all__ = ["Settings", "create_app"]


def mount(app: FastAPI, router: APIRouter) -> None:
    """``router``'s routes added to ``app`` itself: FastAPI's ``include_router`` now wraps them in a
    lazily resolved router, which hides each route's template from the gate's metric label."""
    for route in router.routes:
        assert isinstance(route, APIRoute)
        app.add_api_route(route.path, route.endpoint, methods=list(route.methods or ()), summary=route.summary)


def answer_errors(app: FastAPI) -> None:
    """Every failure answered with the service's error body and status, and counted."""
    app.add_exception_handler(RequestValidationError, _on_invalid_parameter)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_routing)  # type: ignore[arg-type]
    for kind in (OddslineError, ServiceError, Exception):
        app.add_exception_handler(kind, _on_error)


async def _on_routing(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # No route for the path (404), or not for the method (405): the service's error body, not
    # Starlette's {"detail": ...}; the client's path is not echoed.
    allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow")
    if exc.status_code == 404:
        message = "no such route; GET /openapi.json lists them"
    elif exc.status_code == 405 and allowed:
        message = f"this route does not take {request.method}; it takes {allowed}"
    else:
        message = str(exc.detail)
    return JSONResponse({"error": message, "field": None}, status_code=exc.status_code, headers=exc.headers)


async def _on_invalid_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
    # A query or path parameter FastAPI itself checks (?explain=maybe): the service's error body,
    # not FastAPI's {"detail": [...]}.
    first = exc.errors()[0] if exc.errors() else {}
    field = str(first.get("loc", ("", ""))[-1]) or None
    message = f"{field}: {first.get('msg', 'invalid value')}" if field else str(first.get("msg", "invalid value"))
    return JSONResponse({"error": message, "field": field}, status_code=422)


async def _on_error(request: Request, exc: Exception) -> JSONResponse:
    status, body = service_of(request).failure(exc)
    return JSONResponse(body, status_code=status)


def create_app(
    served: list[Served], settings: Settings | None = None, challengers: dict[str, Served] | None = None
) -> Gate:
    """The service as an ASGI app: the FastAPI routes behind the :class:`Gate` (limits, timing, metrics,
    the hot predict route)."""
    service = Service(served, settings, challengers)
    app = FastAPI(
        title="oddsline scoring service",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan(service),
    )
    app.state.service = service
    for module in (native, labels, oip, mlflow, admin):
        mount(app, module.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = service_openapi(app, service.models.snapshot, service.settings.max_rows)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    answer_errors(app)

    gate = Gate(
        app,
        metrics=service.metrics,
        max_in_flight=service.settings.max_in_flight,
        max_body_bytes=service.settings.max_body_bytes,
        timeout=service.settings.request_timeout,
        fast=functools.partial(native.fast_predict, service),
        served=service.models.snapshot,
    )
    service.busy = gate.busy
    admit_with(gate)
    return gate
