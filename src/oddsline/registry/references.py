"""A model reference is a file path or a registry reference (``churn@champion``, ``churn@3``, ``churn``):
what the CLI's MODEL arguments and the server's served models both name."""

from __future__ import annotations

import os
from pathlib import Path

from ..artifact import load
from ..models import ScoringModel

__all__ = ["load_any_model"]


def load_any_model(reference: str, *, trusted_keys: list[str] | None = None) -> ScoringModel:
    """A file if one exists at ``reference``; otherwise a registry reference in ``$ODDSLINE_HOME``."""
    if Path(reference).is_file() or reference.endswith(".odl") or os.sep in reference:
        return load(reference, trusted_keys=trusted_keys)
    from .registry import Registry

    with Registry(require_signatures=bool(trusted_keys), trusted_keys=trusted_keys or ()) as registry:
        model: ScoringModel = registry.load(reference)
    return model
