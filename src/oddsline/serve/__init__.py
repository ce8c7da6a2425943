"""The scoring service: native JSON, Open Inference Protocol V2 and MLflow routes over the same models.

Its names load on first use: the command line reads ``serve.settings`` (its limits' defaults) for
``--help`` without importing FastAPI, which the serve extra installs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Settings, create_app

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
