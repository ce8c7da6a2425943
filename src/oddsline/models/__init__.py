"""Model kinds: one module per kind, one protocol they share, one table from manifest kind to loader.

    base.py        ScoringModel: what every kind offers (features, target, classes, predict_proba ->
                   (n, K), predict, evaluate, save, to_artifact, kind)
    binary.py      Model: binary logistic regression (threshold, calibrator, compiled row scorers)
    multiclass.py  MulticlassModel: multinomial (softmax) logistic regression with a temperature

Imports point one way, downward::

    artifact.py (load: manifest kind -> LOADERS[kind])
        -> models/  (each kind writes its own entry through artifact_file.write_artifact)
            -> artifact_file.py (the verified .odl container; knows files, not models)

No kind imports ``artifact.py``, and ``artifact_file.py`` imports no kind, so there is no circle.
A new kind (the online model) is a module here with ``kind``, ``to_artifact`` and ``from_artifact``,
and one line in ``LOADERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numpy.typing import NDArray

from .base import ScoringModel, Target
from .binary import Explanation, Model, OneRow
from .multiclass import ClassExplanation, MulticlassModel

__all__ = [
    "LOADERS",
    "ClassExplanation",
    "Explanation",
    "Loader",
    "Model",
    "MulticlassModel",
    "OneRow",
    "ScoringModel",
    "Target",
]

# (manifest entry, arrays, info) -> model
Loader = Callable[[dict[str, Any], dict[str, NDArray[Any]], dict[str, Any]], ScoringModel]

LOADERS: dict[str, Loader] = {
    Model.kind: Model.from_artifact,
    MulticlassModel.kind: MulticlassModel.from_artifact,
}
