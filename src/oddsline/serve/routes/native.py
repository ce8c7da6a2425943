"""The native JSON protocol: ``/v1/models``, a model's description, and predict (one row as an object,
several as a list, or ``{"instances": [...]}``)."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import orjson
from fastapi import APIRouter, Request

from ...models import Model, MulticlassModel
from ..columns import RequestRows
from ..gate import respond
from ..models import Served
from ..payloads import check_row_count, parse_json, rows_from_native
from ..request_ids import request_state
from ..scoring import scored
from ..service import Service, read_body, service_of

__all__ = ["describe", "fast_predict", "router"]

router = APIRouter()


def describe(served: Served) -> dict[str, Any]:
    return {"name": served.name, "version": served.version, "reference": served.reference, "sha256": served.sha256}


@router.get("/v1/models", summary="the served models")
def list_models(request: Request) -> list[dict[str, Any]]:
    return [describe(s) for s in service_of(request).models.snapshot().values()]


@router.get("/v1/models/{name}", summary="a model's schema, version and metadata")
def show_model(name: str, request: Request) -> dict[str, Any]:
    served = service_of(request).models.get(name)
    model = served.model
    described = describe(served) | {
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


@router.post("/v1/models/{name}/predict", summary="score one row (object) or several (list)")
async def predict(name: str, request: Request, explain: bool = False) -> dict[str, Any]:
    service = service_of(request)
    served = service.models.get(name)
    rows = rows_from_native(parse_json(await service.body(request)), service.settings.max_rows)
    return {
        "model": served.name,
        "version": served.version,
        "request_id": request_state(request.scope)["request_id"],
        "predictions": (await scored(service, served, rows, request.scope, explain)).dicts(),
    }


async def fast_predict(service: Service, name: str, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """POST /v1/models/{name}/predict without query parameters, answered by the gate directly; the
    same steps and answers as ``predict``, with the rows decoded straight into columns."""
    try:
        served = service.models.get(name)
        raw = await read_body(receive, service.settings.max_body_bytes)
        rows: RequestRows | None = served.rows_decoder.decode(raw)
        if rows is None:
            rows = rows_from_native(parse_json(raw), service.settings.max_rows)
        else:
            check_row_count(len(rows), service.settings.max_rows)
        body = {
            "model": served.name,
            "version": served.version,
            "request_id": scope["state"]["request_id"],
            # The rows' JSON as msgspec encoded it, spliced in whole (no dict per prediction).
            "predictions": orjson.Fragment((await scored(service, served, rows, scope)).json()),
        }
    except (TimeoutError, asyncio.CancelledError):
        raise
    except Exception as exc:
        status, error = service.failure(exc)
        await respond(send, status, error)
        return
    await respond(send, 200, body)
