"""The Open Inference Protocol V2 (KServe, Triton): server and model metadata, health, and infer, with
JSON tensors or the binary tensor extension.

When a row holds a number outside its training range, the answer has one more output, ``out_of_range``
(BYTES, one JSON object per row: ``{"tenure": "extrapolated"}``, ``{}`` for rows in range)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..._version import __version__
from ...models import Model
from ..class_scores import oip_outputs
from ..errors import ServiceError
from ..models import Served
from ..payloads import attach_binary, rows_from_oip, split_binary_request
from ..request_ids import request_state
from ..scoring import scored
from ..service import Service, service_of

__all__ = ["router", "served_version"]

router = APIRouter()


def served_version(service: Service, name: str, version: str | None) -> Served:
    """The served model ``name``; 404 when a version is asked for that is not the one served."""
    served = service.models.get(name)
    if version is not None and version != served.version:
        raise ServiceError(404, f"model {name!r} is served at version {served.version}, not {version!r}", "version")
    return served


@router.get("/v2", summary="OIP server metadata")
def server_metadata() -> dict[str, Any]:
    return {"name": "oddsline", "version": __version__, "extensions": []}


@router.get("/v2/health/live", summary="OIP liveness")
def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/v2/health/ready", summary="OIP readiness (503 while draining)")
def ready(request: Request) -> JSONResponse:
    up = service_of(request).ready()
    return JSONResponse({"ready": up}, status_code=200 if up else 503)


@router.get("/v2/models/{name}", summary="OIP model metadata")
@router.get("/v2/models/{name}/versions/{version}", summary="OIP model metadata of a version")
def model_metadata(name: str, request: Request, version: str | None = None) -> dict[str, Any]:
    served = served_version(service_of(request), name, version)
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


@router.get("/v2/models/{name}/ready", summary="OIP model readiness")
@router.get("/v2/models/{name}/versions/{version}/ready", summary="OIP model readiness of a version")
def model_ready(name: str, request: Request, version: str | None = None) -> dict[str, Any]:
    served = served_version(service_of(request), name, version)
    return {"name": served.name, "ready": True}


@router.post("/v2/models/{name}/infer", summary="OIP inference")
@router.post("/v2/models/{name}/versions/{version}/infer", summary="OIP inference on a version")
async def infer(name: str, request: Request, version: str | None = None) -> dict[str, Any]:
    service = service_of(request)
    served = served_version(service, name, version)
    payload, blob = split_binary_request(
        await service.body(request), request.headers.get("inference-header-content-length")
    )
    attach_binary(payload, blob)
    rows, request_id = rows_from_oip(payload, service.settings.max_rows)
    results = await scored(service, served, rows, request.scope)
    answer = {
        "model_name": served.name,
        "model_version": served.version,
        "id": request_id or request_state(request.scope)["request_id"],
    }
    n = len(results)
    outputs = (
        oip_outputs(results)
        if results.decision is None
        else [
            {"name": "probability", "datatype": "FP64", "shape": [n, 1], "data": results.probability},
            {"name": "label", "datatype": "BYTES", "shape": [n, 1], "data": [str(label) for label in results.label]},
        ]
    )
    if results.out_of_range() and results.extra is not None:
        # One more tensor, only when a row holds a number outside its training range: each row's
        # {column: action} as JSON text ("{}" for a row in range).
        flags = [json.dumps(extra.get("out_of_range", {}), sort_keys=True) for extra in results.extra]
        outputs.append({"name": "out_of_range", "datatype": "BYTES", "shape": [n, 1], "data": flags})
    return answer | {"outputs": outputs}
