"""The MLflow scoring protocol: ``/invocations`` (dataframe_split, dataframe_records, instances,
inputs, text/csv) on the one served model, ``/ping``, ``/health`` and ``/version``.

Rows holding a number outside its training range are named beside the predictions:
``"out_of_range": [{"row": 3, "columns": {"tenure": "extrapolated"}}]``, only when there are some."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from ..._version import __version__
from ..class_scores import mlflow_predictions
from ..errors import ServiceError
from ..payloads import parse_json, rows_from_mlflow
from ..scoring import scored
from ..service import service_of

__all__ = ["router"]

router = APIRouter()


@router.post("/invocations", summary="MLflow scoring: dataframe_split, dataframe_records, instances, inputs, text/csv")
async def invocations(request: Request) -> dict[str, Any]:
    service = service_of(request)
    snapshot = service.models.snapshot()
    if len(snapshot) != 1:
        raise ServiceError(
            409, "/invocations scores the one served model; this server serves several: use /v1/models/{name}/predict"
        )
    served = next(iter(snapshot.values()))
    body = await service.body(request)
    content_type = request.headers.get("content-type", "application/json")
    payload = None if content_type.startswith("text/csv") else parse_json(body)
    rows = rows_from_mlflow(payload, content_type, body, service.settings.max_rows)
    results = await scored(service, served, rows, request.scope)
    # A multinomial model: one record of class probabilities per row.
    answer: dict[str, Any] = {
        "predictions": results.probability if results.decision is not None else mlflow_predictions(results)
    }
    flagged = results.out_of_range()
    if flagged:  # beside "predictions", which MLflow clients read alone
        answer["out_of_range"] = flagged
    return answer


@router.get("/ping", summary="MLflow liveness")
@router.get("/health", summary="MLflow health")
def ping(request: Request) -> PlainTextResponse:
    return PlainTextResponse("\n", status_code=200 if service_of(request).ready() else 503)


@router.get("/version", summary="the server's version")
def version() -> PlainTextResponse:
    return PlainTextResponse(__version__)
