"""The service's /openapi.json as a client generator needs it: the request body of every scoring route
(the served models' columns and their JSON types), the answers' shapes, and the error body the service
really sends, ``{"error", "field"}``, under every status it answers, instead of FastAPI's
HTTPValidationError (the routes read their bodies themselves, so FastAPI validates none of them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.openapi.utils import get_openapi
from prometheus_client import CONTENT_TYPE_LATEST

__all__ = ["service_openapi"]

ERROR = {
    "type": "object",
    "required": ["error", "field"],
    "properties": {
        "error": {"type": "string", "description": "what is wrong and how to fix it"},
        "field": {"type": ["string", "null"], "description": "the column or field at fault"},
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_STATUS_TEXT = {
    "400": "malformed body (not JSON, a key twice, nested too deeply)",
    "404": "no such model or route",
    "413": "body or row count over the limit",
    "422": "a value the model cannot take (missing column, wrong type, out of range under error)",
    "500": "a bug, logged with the request id",
    "503": "at the concurrency limit or draining; retry (Retry-After)",
    "504": "not answered within the request timeout; send fewer rows",
    # Answered by the HTTP layer before the app (serve/protocol.py), on every route.
    "408": "the request's head or body did not arrive within its deadline (the connection is closed)",
    "414": "the URL is over the limit (the connection is closed)",
    "431": "a header line, the header count or the whole head is over the limit (the connection is closed)",
}
_PROTOCOL_STATUSES = ["408", "414", "431"]
# JSON types a column of each kind takes (a boolean also as 0/1 or its spellings; null: missing).
_JSON_TYPES = {
    "numeric": ["number", "string", "null"],
    "boolean": ["boolean", "number", "string", "null"],
}
_ANY_SCALAR = ["string", "number", "boolean", "null"]
_PREDICTION = {
    "type": "object",
    "required": ["probability", "raw_probability", "label"],
    "properties": {
        "probability": {"type": "number", "description": "calibrated (of the predicted class, multinomial)"},
        "raw_probability": {"type": "number"},
        "decision": {"type": "boolean", "description": "at the model's threshold (binary models)"},
        "label": {"description": "the predicted class"},
        "out_of_range": {"type": "object", "description": "columns outside the training range, and what was done"},
        "contributions": {"type": "object", "description": "with ?explain=true"},
    },
}


def _row(models: list[Any]) -> dict[str, Any]:
    """A row: every column of the served models, typed by kind; required when one model is served."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for served in models:
        for column, _ in served.model.features.blocks():
            for source in column.sources:
                properties.setdefault(source, {"type": _JSON_TYPES.get(column.kind, _ANY_SCALAR)})
                if len(models) == 1 and source not in required:
                    required.append(source)
    return {"type": "object", "properties": properties, "required": required}


def service_openapi(app: Any, snapshot: Callable[[], dict[str, Any]], max_rows: int) -> dict[str, Any]:
    """The OpenAPI document of ``app``, for the models ``snapshot()`` returns."""
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for fastapi_only in ("HTTPValidationError", "ValidationError"):
        components.pop(fastapi_only, None)
    components["Error"] = ERROR
    components["Row"] = _row(list(snapshot().values()))
    rows = {"type": "array", "items": {"$ref": "#/components/schemas/Row"}, "minItems": 1, "maxItems": max_rows}
    components["PredictRequest"] = {
        "oneOf": [
            {"$ref": "#/components/schemas/Row"},
            rows,
            {"type": "object", "required": ["rows"], "properties": {"rows": rows}},
            {"type": "object", "required": ["instances"], "properties": {"instances": rows}},
        ]
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            statuses = ["400", "404", "413", "422", "500", "503", "504"] if method == "post" else ["404", "500", "503"]
            for status in statuses + _PROTOCOL_STATUSES:
                responses[status] = {"description": _STATUS_TEXT[status], "content": _json(_ERROR_REF)}
            if path == "/v1/models/{name}/predict":
                operation["requestBody"] = {
                    "required": True,
                    "content": _json({"$ref": "#/components/schemas/PredictRequest"}),
                }
                responses["200"]["content"] = _json(
                    {
                        "type": "object",
                        "required": ["model", "version", "request_id", "predictions"],
                        "properties": {
                            "model": {"type": "string"},
                            "version": {"type": "string"},
                            "request_id": {"type": "string", "description": "names the prediction in /v1/labels"},
                            "predictions": {"type": "array", "items": _PREDICTION},
                        },
                    }
                )
            elif path == "/invocations":
                responses["409"] = {
                    "description": "the server serves several models: use /v1/models/{name}/predict",
                    "content": _json(_ERROR_REF),
                }
                operation["requestBody"] = {
                    "required": True,
                    "content": {
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "dataframe_records": rows,
                                    "dataframe_split": {"type": "object"},
                                    "instances": rows,
                                    "inputs": {},
                                },
                            }
                        ),
                        "text/csv": {"schema": {"type": "string"}},
                    },
                }
            elif path.endswith("/infer"):
                operation["requestBody"] = {"required": True, "content": _json(_OIP_REQUEST)}
            elif path == "/v1/labels":
                operation["requestBody"] = {"required": True, "content": _json(_LABELS_REQUEST)}
            elif path == "/admin/reload":
                responses["401"] = {"description": "no or wrong bearer token", "content": _json(_ERROR_REF)}
            if path in _TEXT:
                responses["200"] = {"description": "OK", "content": {_TEXT[path]: {"schema": {"type": "string"}}}}
                if path in ("/ping", "/health"):
                    responses["503"] = {"description": "not ready", "content": {_TEXT[path]: {"schema": {}}}}
    return schema


# Routes that answer text, by their media type.
_TEXT = {
    "/metrics": CONTENT_TYPE_LATEST,
    "/ping": "text/plain; charset=utf-8",
    "/health": "text/plain; charset=utf-8",
    "/version": "text/plain; charset=utf-8",
}
_LABELS_REQUEST = {
    "type": "object",
    "required": ["labels"],
    "properties": {
        "labels": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "label"],
                "properties": {
                    "id": {
                        "type": ["string", "number"],
                        "description": "a prediction id (the request id, or <request id>:<row>)",
                    },
                    "label": {"type": ["string", "number", "boolean"], "description": "the observed class"},
                    "time": {
                        "type": ["string", "null"],
                        "description": "when it was observed, ISO 8601 (default: now)",
                    },
                },
            },
        }
    },
}


_OIP_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "inputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "shape", "datatype", "data"],
                "properties": {
                    "name": {"type": "string", "description": "a column of the model"},
                    "shape": {"type": "array", "items": {"type": "integer"}},
                    "datatype": {"type": "string", "enum": ["BOOL", "INT32", "INT64", "FP32", "FP64", "BYTES"]},
                    "data": {"type": "array"},
                },
            },
        },
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
