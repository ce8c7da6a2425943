"""One table from exceptions to HTTP statuses; error bodies are ``{"error": ..., "field": ...}`` and never
carry a traceback, a class name or a path."""

from __future__ import annotations

import re
from typing import Any

from .._exceptions import DataError, OddslineError, ParameterError, RegistryError, SchemaError

__all__ = ["OVERLOADED", "STATUS", "ServiceError", "error_body", "status_of"]

# The 503 at the concurrency limit, whether the HTTP layer or the app refuses the request.
OVERLOADED = "the server is at its concurrency limit; retry shortly"


class ServiceError(Exception):
    """A request the service refuses: its status, message, and the field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


# Most specific first.
STATUS: list[tuple[type[BaseException], int]] = [
    (SchemaError, 422),
    (DataError, 422),
    (ParameterError, 422),
    (RegistryError, 404),
    (OddslineError, 422),
]

_PATH = re.compile(r"(/[\w.-]+){2,}")


def status_of(exc: BaseException) -> int:
    if isinstance(exc, ServiceError):
        return exc.status
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_body(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ServiceError):
        return {"error": exc.message, "field": exc.field}
    if status_of(exc) == 500:
        return {"error": "internal error; the request id is in the X-Request-Id header", "field": None}
    message = _PATH.sub("<path>", str(exc))
    found = re.search(r"column(?:\(s\))? '([^']+)'", message)  # the first column the message names
    return {"error": message, "field": found.group(1) if found else None}
