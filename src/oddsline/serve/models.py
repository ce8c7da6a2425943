"""The models a server holds, swapped atomically on reload: a request takes one snapshot of the map and
finishes on it, whatever reloads meanwhile. A served model is of any kind (binary or multinomial); the
compiled JSON scorer is the binary kind's."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import Model, ScoringModel
from .columns import RowDecoder
from .errors import ServiceError
from .json_types import numeric_columns

__all__ = ["ModelSet", "Served", "load_served"]


@dataclass(frozen=True)
class Served:
    name: str
    version: str
    reference: str
    model: ScoringModel
    sha256: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def columns(self) -> frozenset[str]:
        """The model's input columns: the only column names a metric label may carry."""
        return frozenset(self.model.features.source_columns)

    @functools.cached_property
    def source_columns(self) -> tuple[str, ...]:
        """The model's input columns in the spec's order."""
        return tuple(self.model.features.source_columns)

    @functools.cached_property
    def numeric_columns(self) -> frozenset[str]:
        """The input columns the model reads as numbers: JSON true/false is refused there."""
        return numeric_columns(self.model.features)

    @functools.cached_property
    def rows_decoder(self) -> RowDecoder:
        """Decodes a JSON array of this model's rows straight into columns."""
        scorer = self.model.json_row_scorer() if isinstance(self.model, Model) else None
        return RowDecoder(self.model.features.source_columns, scorer)


def load_served(reference: str, trusted_keys: list[str] | None = None) -> Served:
    """A file path or a registry reference (``churn@champion``), verified (and signature-checked)."""
    from ..registry.references import load_any_model

    model = load_any_model(reference, trusted_keys=trusted_keys)
    if Path(reference).is_file():
        name, version = Path(reference).stem, (model.info.get("file_sha256") or "")[:12]
    else:
        from ..registry import Registry

        with Registry() as registry:
            name, number = registry.resolve(reference)
        version = str(number)
    return Served(name, version, reference, model, str(model.info.get("file_sha256", "")))


class ModelSet:
    def __init__(self, served: list[Served]) -> None:
        self._lock = threading.Lock()
        self._models = {s.name: s for s in served}

    def snapshot(self) -> dict[str, Served]:
        return self._models

    def get(self, name: str) -> Served:
        served = self._models.get(name)
        if served is None:
            raise ServiceError(404, f"no model named {name!r} is served; GET /v1/models lists them", "name")
        return served

    def swap(self, served: Served) -> None:
        with self._lock:
            self._models = {**self._models, served.name: served}
