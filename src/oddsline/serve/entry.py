"""The app as uvicorn builds it in each worker process, from the environment ``oddsline serve`` sets."""

from __future__ import annotations

import json
import os

from .app import create_app
from .gate import Gate
from .models import load_served
from .settings import CONFIG_ENV, Settings

ENV = CONFIG_ENV


def app_from_env() -> Gate:
    config = json.loads(os.environ[ENV])
    settings = Settings.from_json(config["settings"], admin_token=os.environ.get("ODDSLINE_ADMIN_TOKEN"))
    keys = list(settings.trusted_keys) or None
    served = [load_served(reference, keys) for reference in config["models"]]
    challengers = {}
    if config.get("challenger"):
        challengers[served[0].name] = load_served(config["challenger"], keys)
    return create_app(served, settings, challengers)
