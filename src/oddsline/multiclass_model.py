"""MulticlassModel: fitted features, one coefficient row per class (softmax), and a temperature.

The multiclass counterpart of :class:`Model` for the Python API and the model file: it scores raw
tables, keeps its temperature calibration (softmax(logits / T); the raw probabilities stay
available) and evaluates itself with confidence intervals. The CLI verbs and the server take
binary models.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .calibration import TemperatureScaler
from .features import FittedFeatures, TransformReport
from .io import TableLike, to_arrow
from .metrics import evaluate_multiclass
from .target import ClassTarget

__all__ = ["MulticlassModel"]


@dataclass(frozen=True)
class MulticlassModel:
    """``coef`` is (n_classes, n_design), ``intercept`` (n_classes,); classes in ``target.classes`` order."""

    features: FittedFeatures
    target: ClassTarget
    coef: NDArray[np.float64]
    intercept: NDArray[np.float64]
    temperature: float | None = None  # None: no calibration
    params: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[Any]:
        return self.target.classes

    @property
    def design_names(self) -> list[str]:
        return self.features.design_names

    def decision_function(self, data: TableLike, report: TransformReport | None = None) -> NDArray[np.float64]:
        """(n_rows, n_classes) logits (before any temperature)."""
        X = self.features.transform(to_arrow(data), report)
        return X @ self.coef.T + self.intercept  # type: ignore[no-any-return]

    def predict_proba(
        self, data: TableLike, report: TransformReport | None = None, *, raw: bool = False
    ) -> NDArray[np.float64]:
        """(n_rows, n_classes) class probabilities, temperature-scaled unless ``raw=True``."""
        temperature = 1.0 if raw or self.temperature is None else self.temperature
        return TemperatureScaler(temperature).apply(self.decision_function(data, report))

    def predict(self, data: TableLike) -> NDArray[Any]:
        """The most probable class of each row (a temperature never changes it)."""
        labels = np.array(self.classes, dtype=object)
        return labels[self.decision_function(data).argmax(axis=1)]  # type: ignore[no-any-return]

    def evaluate(self, data: TableLike, *, n_bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
        """Log loss, Brier, accuracy and one-vs-rest AUC on a labelled table, with bootstrap intervals."""
        table = to_arrow(data)
        return evaluate_multiclass(
            self.target.encode(table), self.predict_proba(table), n_bootstrap=n_bootstrap, seed=seed
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model as one ``.odl`` file (atomically); returns the path."""
        from .artifact import save_model

        return save_model(self, path)
