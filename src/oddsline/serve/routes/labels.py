"""``POST /v1/labels``: late labels of earlier predictions, joined by prediction id to what this worker
remembers, else to the prediction log (another worker's, or before a restart)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from ..label_join import join_labels
from ..payloads import labels_from_json, parse_json
from ..service import service_of

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/labels", summary="labels of earlier predictions, by prediction id (late labels)")
async def post_labels(request: Request) -> dict[str, Any]:
    service = service_of(request)
    records = labels_from_json(parse_json(await service.body(request)), service.settings.max_rows)
    found = [service.recent.find(record["id"]) for record in records]
    if service.logged is not None and None in found:  # made by another worker, or before a restart
        logged = service.logged
        await asyncio.to_thread(logged.refresh)
        found = [seen or logged.find(record["id"]) for seen, record in zip(found, records, strict=True)]
    # Not found yet: another worker may not have written it to the log yet; tried again for a while.
    matched, invalid, repeated, pending = join_labels(service, records, found, wait=service.logged is not None)
    folder = service.settings.labels_folder
    if folder:
        from ...monitor.labels import store_labels

        await asyncio.to_thread(store_labels, records, folder)
    return {
        "received": len(records),
        "matched": matched,
        "unknown": len(records) - matched - invalid - repeated - pending,
        "invalid": invalid,
        "repeated": repeated,
        # Not found yet, tried again for a while (label_join.PENDING_SECONDS: another worker's
        # prediction reaches the log within seconds): found then, matched in /metrics; else unknown.
        "pending": pending,
        "stored": bool(folder),
    }
