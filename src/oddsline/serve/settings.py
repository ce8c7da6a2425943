"""The service's settings: one object from the command line to each worker and to every reload.

``oddsline serve`` builds it from its options and hands it to the workers as JSON
(:meth:`Settings.to_json` / :meth:`Settings.from_json`), so no field is copied by hand on the way.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["CONFIG_ENV", "ConnectionLimits", "Settings"]

# Set by ``oddsline serve`` for its workers: the models and these settings, as JSON (serve/entry.py).
CONFIG_ENV = "ODDSLINE_SERVE_CONFIG"


@dataclass(frozen=True)
class ConnectionLimits:
    """What the HTTP layer (protocol.py) allows a connection before the app sees a request."""

    header_timeout: float = 10.0  # seconds from a request's first byte (or the connection) to its last header
    body_timeout: float = 30.0  # seconds from the last header to the last body byte
    max_url_bytes: int = 8192
    max_headers: int = 100
    max_header_bytes: int = 8192  # one header line, name and value
    max_head_bytes: int = 65536  # request line and all headers
    shed_delay: float = 0.25  # the longest a refused request's 503 is held (protocol._hold_for); at most 1


@dataclass(frozen=True)
class Settings:
    max_body_bytes: int = 8 << 20  # 10,000 rows (max_rows) of up to ~800 bytes
    max_rows: int = 10_000
    max_in_flight: int = 256  # beyond it: 503 with Retry-After, not a queue that grows without bound
    prediction_log: str | None = None  # folder of the prediction log; None: no log
    pii_columns: tuple[str, ...] = ()
    admin_token: str | None = None  # bearer token of /admin/*; None: admin routes disabled
    watch_seconds: float = 5.0  # how often registry aliases are checked for a move (0: never)
    canary_percent: float = 0.0  # share of rows a challenger scores instead of its champion
    canary_key: str | None = None  # rows with the same value of this column always go the same way
    shadow: bool = False  # the challenger scores every row too, but only into the log and metrics
    request_timeout: float = 30.0  # seconds from the first byte to the answer; past it: 504
    labels_folder: str | None = None  # where POST /v1/labels stores labels; None: counted in metrics only
    drift_seconds: float = 60.0  # how often the recent rows' drift is measured (0: never)
    drift_window_rows: int = 5_000  # the recent rows per model that drift is measured on
    drift_min_rows: int = 500  # fewer recent rows than this: no measurement
    # Recent predictions kept in memory (and read back from the log) to join late labels: the bound of
    # what a worker's memory grows to under traffic (about 200 bytes each).
    remembered_predictions: int = 200_000
    drain_seconds: float = 0.0  # after SIGTERM: readiness fails at once, requests are still served this long
    # Public keys a served file must be signed by (--trust-key); () accepts unsigned files. Every load
    # honours them: at start, and on each reload (SIGHUP, /admin/reload, an alias that moved).
    trusted_keys: tuple[str, ...] = ()
    connection: ConnectionLimits = ConnectionLimits()  # the HTTP layer's deadlines and size limits

    def to_json(self) -> str:
        """The settings as JSON for the worker processes; the admin token stays out (it travels in
        ``ODDSLINE_ADMIN_TOKEN``, not in a variable every child process prints in its environment)."""
        return json.dumps(dataclasses.asdict(self) | {"admin_token": None})

    @classmethod
    def from_json(cls, text: str, admin_token: str | None = None) -> Settings:
        fields: dict[str, Any] = json.loads(text)
        for name in ("pii_columns", "trusted_keys"):
            fields[name] = tuple(fields.get(name) or ())
        fields["admin_token"] = admin_token or None
        fields["connection"] = ConnectionLimits(**(fields.get("connection") or {}))
        return cls(**fields)
