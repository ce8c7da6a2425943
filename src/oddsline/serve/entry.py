"""The app as uvicorn builds it in each worker process, from the environment ``oddsline serve`` sets."""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

from .app import Settings, create_app
from .models import load_served

ENV = "ODDSLINE_SERVE_CONFIG"


def app_from_env() -> FastAPI:
    config = json.loads(os.environ[ENV])
    served = [load_served(ref, config.get("trusted_keys") or None) for ref in config["models"]]
    return create_app(served, Settings(max_body_bytes=config["max_body_bytes"], max_rows=config["max_rows"]))
