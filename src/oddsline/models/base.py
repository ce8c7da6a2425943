"""What every model kind offers: the :class:`ScoringModel` protocol.

A kind is a frozen dataclass (binary: :class:`~oddsline.models.binary.Model`; multinomial:
:class:`~oddsline.models.multiclass.MulticlassModel`; the online kind of a later issue) that scores raw
tables into one probability column per class, predicts labels, evaluates itself on labelled rows, and
writes and reads its own entry of the model file. Code that serves every kind (the artifact reader, the
CLI verbs, batch scoring) is written against this protocol; what only one kind has (a decision
threshold, the compiled JSON scorer, a temperature) is reached through that kind's class.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from ..features import FittedFeatures, TransformReport
from ..io import TableLike

__all__ = ["ScoringModel", "Target"]


class Target(Protocol):
    """The target column and its classes, in the order of ``predict_proba``'s columns."""

    @property
    def name(self) -> str: ...

    @property
    def classes(self) -> list[Any]: ...

    def encode(self, table: pa.Table) -> NDArray[Any]: ...

    def to_dict(self) -> dict[str, Any]: ...


@runtime_checkable
class ScoringModel(Protocol):
    """A trained model of any kind, as the artifact reader, the CLI and batch scoring use it."""

    kind: ClassVar[str]  # the manifest's "kind": "binary_logistic_regression", "multinomial_logistic_regression"

    @property
    def features(self) -> FittedFeatures: ...

    @property
    def target(self) -> Target: ...

    @property
    def params(self) -> dict[str, Any]: ...

    @property
    def info(self) -> dict[str, Any]: ...

    @property
    def classes(self) -> list[Any]: ...

    @property
    def design_names(self) -> list[str]: ...

    def predict_proba(
        self, data: TableLike, report: TransformReport | None = None, *, raw: bool = False
    ) -> NDArray[np.float64]:
        """(n_rows, n_classes): a probability per class, in ``classes`` order, calibrated unless ``raw``."""
        ...

    def predict(self, data: TableLike) -> NDArray[Any]:
        """The label each row is assigned (binary: at the threshold; multinomial: the most probable)."""
        ...

    def evaluate(self, data: TableLike, *, n_bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
        """Metrics on a labelled table with bootstrap intervals."""
        ...

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write one ``.odl`` file, atomically."""
        ...

    def to_artifact(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        """The manifest entry (with "kind") and the arrays of the model file."""
        ...
