"""A multinomial model's answer to a request: the most probable class, its probability, and the
probability of every class — what the native, Open Inference Protocol and MLflow routes return.

The rows are scored by the model's dict-row path (one compiled scorer per class), so each row's
probabilities are bit for bit those of ``MulticlassModel.predict_proba`` on a table of the same rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..features import TransformReport
from ..models import MulticlassModel
from .columns import RequestRows, as_dicts
from .rows_table import rows_table
from .scores import Scores

__all__ = ["mlflow_predictions", "oip_outputs", "score_classes"]

_TOP_CONTRIBUTIONS = 5


def score_classes(
    model: MulticlassModel,
    rows: RequestRows,
    report: TransformReport,
    explain: bool = False,
    numeric: frozenset[str] = frozenset(),
) -> Scores:
    """``probability``/``raw_probability`` are the predicted class's; ``decision`` is None (no threshold).
    ``explain``: the five largest contributions to the predicted class's logit, and its base
    (``numeric``: the columns the model reads as numbers, for the table the explanation needs)."""
    logits = model.logits_of_rows(rows, report)
    calibrated, raw = model.softmax(logits), model.softmax(logits, raw=True)
    top = calibrated.argmax(axis=1)
    picked = np.arange(top.shape[0])
    labels = [model.classes[k] for k in top.tolist()]
    extra = None
    if explain:
        explained = model.explain(rows_table(as_dicts(rows), numeric))
        extra = []
        for i, k in enumerate(top.tolist()):
            values = explained.values[i, k]
            order = np.argsort(-np.abs(values))[:_TOP_CONTRIBUTIONS]
            extra.append(
                {
                    "contributions": {explained.names[j]: float(values[j]) for j in order},
                    "base": float(explained.base[k]),
                    "explained_class": labels[i],
                }
            )
    return Scores(
        calibrated[picked, top].tolist(),
        raw[picked, top].tolist(),
        None,
        labels,
        extra,
        class_probabilities=calibrated.tolist(),
        classes=list(model.classes),
    )


def oip_outputs(results: Scores) -> list[dict[str, Any]]:
    """OIP V2 output tensors: ``probabilities`` [n, K] (row-major, class order as the model metadata's
    ``classes`` parameter) and ``label`` [n, 1]."""
    n = len(results)
    matrix = results.class_probabilities or []
    classes = results.classes or []
    return [
        {
            "name": "probabilities",
            "datatype": "FP64",
            "shape": [n, len(classes)],
            "data": [p for row in matrix for p in row],
            "parameters": {"classes": ",".join(map(str, classes))},
        },
        {"name": "label", "datatype": "BYTES", "shape": [n, 1], "data": [str(label) for label in results.label]},
    ]


def mlflow_predictions(results: Scores) -> list[dict[str, float]]:
    """One record per row, class -> probability: how MLflow's scoring server writes a DataFrame output."""
    names = [str(c) for c in results.classes or []]
    return [dict(zip(names, row, strict=True)) for row in results.class_probabilities or []]
