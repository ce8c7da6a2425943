"""The app as uvicorn builds it in each worker process, from the environment ``oddsline serve`` sets."""

from __future__ import annotations

import json
import os

from .app import Settings, create_app
from .gate import Gate
from .models import load_served

ENV = "ODDSLINE_SERVE_CONFIG"


def app_from_env() -> Gate:
    config = json.loads(os.environ[ENV])
    served = [load_served(ref, config.get("trusted_keys") or None) for ref in config["models"]]
    settings = Settings(
        max_body_bytes=config["max_body_bytes"],
        max_rows=config["max_rows"],
        max_in_flight=int(config.get("max_in_flight") or 256),
        prediction_log=config.get("prediction_log"),
        pii_columns=tuple(config.get("pii_columns") or ()),
        admin_token=os.environ.get("ODDSLINE_ADMIN_TOKEN") or None,
        canary_percent=float(config.get("canary_percent") or 0.0),
        canary_key=config.get("canary_key"),
        shadow=bool(config.get("shadow")),
        request_timeout=float(config.get("request_timeout") or 30.0),
        drain_seconds=float(config.get("drain_seconds") or 0.0),
        watch_seconds=float(config.get("watch_seconds", 5.0)),
        labels_folder=config.get("labels"),
        drift_seconds=float(config.get("drift_seconds", 60.0)),
        trusted_keys=tuple(config.get("trusted_keys") or ()),
    )
    challengers = {}
    if config.get("challenger"):
        challengers[served[0].name] = load_served(config["challenger"], config.get("trusted_keys") or None)
    return create_app(served, settings, challengers)
