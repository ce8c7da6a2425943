"""A MODEL argument is a file path or a registry reference (``churn@champion``, ``churn@3``, ``churn``)."""

from __future__ import annotations

import os
from pathlib import Path

from .._exceptions import ParameterError
from ..artifact import load
from ..model import Model


def load_model(reference: str, *, trusted_keys: list[str] | None = None) -> Model:
    """A file if one exists at ``reference``; otherwise a registry reference in ``$ODDSLINE_HOME``."""
    if Path(reference).is_file() or reference.endswith(".odl") or os.sep in reference:
        model = load(reference, trusted_keys=trusted_keys)
    else:
        from ..registry import Registry

        with Registry(require_signatures=bool(trusted_keys), trusted_keys=trusted_keys or ()) as registry:
            model = registry.load(reference)
    if not isinstance(model, Model):
        raise ParameterError(
            f"{reference} is a multiclass model; the command line and the server take binary models "
            "(score it in Python: oddsline.load(path).predict_proba(table))"
        )
    return model
