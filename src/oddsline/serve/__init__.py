"""The scoring service: native JSON, Open Inference Protocol V2 and MLflow routes over the same models."""

from .app import Settings, create_app

__all__ = ["Settings", "create_app"]
