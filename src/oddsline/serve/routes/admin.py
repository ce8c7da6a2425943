"""Operations: ``/admin/reload`` behind a bearer token, and ``/metrics`` for Prometheus."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..errors import ServiceError
from ..service import service_of

__all__ = ["router"]

router = APIRouter()


@router.post(
    "/admin/reload",
    summary="reload every served model in every worker (bearer token); a bad version is rejected; 503 while the "
    "registry is locked",
)
def reload(request: Request) -> Any:
    service = service_of(request)
    expected = service.settings.admin_token
    if not expected:
        raise ServiceError(404, "admin routes are disabled: start the server with an admin token")
    given = request.headers.get("authorization", "")
    if not secrets.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise ServiceError(401, "admin routes need 'Authorization: Bearer <token>'", "authorization")
    outcome = service.reload_everywhere()  # with --workers N, every worker reloads, not the one asked
    if any(model.get("retry") for model in outcome.values()):
        # The registry was locked past its busy timeout: the same call is likely to succeed shortly.
        return JSONResponse(outcome, status_code=503, headers={"retry-after": "1"})
    return outcome


@router.get("/metrics", summary="Prometheus metrics")
def prometheus(request: Request) -> Response:
    metrics = service_of(request).metrics
    return Response(metrics.render(), media_type=metrics.content_type)
