"""The positive control of the soak test: the service exactly as ``oddsline serve`` builds it, behind a
wrapper that keeps ``LEAK_BYTES`` of every request forever: a leak of the size a forgotten reference
per request makes (a parsed row, a small dict of them). Started with ``uvicorn --factory leaky_server:app``."""

from __future__ import annotations

from typing import Any

from oddsline.serve.entry import app_from_env

LEAK_BYTES = 1000
_kept: list[bytes] = []


def app() -> Any:
    service = app_from_env()

    async def leaking(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            _kept.append(bytes(LEAK_BYTES - 33))  # a bytes object carries 33 bytes of header
        await service(scope, receive, send)

    return leaking
