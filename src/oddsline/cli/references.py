"""A MODEL argument is a file path or a registry reference (``churn@champion``, ``churn@3``, ``churn``)."""

from __future__ import annotations

import os
from pathlib import Path

from ..artifact import load
from ..model import Model


def load_model(reference: str, *, trusted_keys: list[str] | None = None) -> Model:
    """A file if one exists at ``reference``; otherwise a registry reference in ``$ODDSLINE_HOME``."""
    if Path(reference).is_file() or reference.endswith(".odl") or os.sep in reference:
        return load(reference, trusted_keys=trusted_keys)
    from ..registry import Registry

    with Registry(require_signatures=bool(trusted_keys), trusted_keys=trusted_keys or ()) as registry:
        return registry.load(reference)  # type: ignore[no-any-return]
