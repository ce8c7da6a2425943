"""What the training rows looked like, kept in the model file so drift needs no training data later.

Per source column: numbers -> the inner deciles of the present values as bin edges, the share of rows
in each bin and the missing share; categories -> the share of each level (the 200 most frequent, the
rest as one ``<other>``), missing included. The score: decile bins of the training predictions. Plus
the label rate and each column's importance, sum over its design columns of |coef| x std — how much
a shift in the column can move the log-odds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from ..features import FittedFeatures
from ..features.categorical import level_counts
from ..features.values import as_float

__all__ = ["OTHER", "capture_reference", "histogram"]

OTHER = "<other>"
MAX_LEVELS = 200
_NUMERIC = ("numeric", "passthrough")  # booleans are compared as levels: text spellings have no float value


def histogram(values: NDArray[np.float64], edges: list[float]) -> list[float]:
    """Counts per bin (bins split at ``edges``; a value on an edge goes right), then the missing count."""
    present = values[~np.isnan(values)]
    counts = np.bincount(np.searchsorted(np.asarray(edges), present, side="right"), minlength=len(edges) + 1)
    return [float(c) for c in counts] + [float(np.isnan(values).sum())]


def capture_reference(
    features: FittedFeatures,
    table: pa.Table,
    scores: NDArray[np.float64],
    y: NDArray[np.float64],
    coef: NDArray[np.float64],
    design_std: NDArray[np.float64],
) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    importance: dict[str, float] = {}
    for column, block in features.blocks():
        weight = float(np.sum(np.abs(coef[block]) * design_std[block]))
        for source in column.sources:
            importance[source] = importance.get(source, 0.0) + weight
    for column, _ in features.blocks():
        for source in column.sources:
            if source in columns:
                continue
            data = table.column(source)
            if column.kind in _NUMERIC:
                values = as_float(source, data)
                present = values[~np.isnan(values)]
                edges = (
                    [float(e) for e in np.unique(np.quantile(present, np.linspace(0.1, 0.9, 9)))]
                    if present.size
                    else []
                )
                counts = histogram(values, edges)
                columns[source] = {"type": "numeric", "edges": edges, "share": _share(counts)}
            else:
                levels = level_counts(data)
                top = sorted(levels, key=lambda k: -levels[k])[:MAX_LEVELS]
                other = sum(n for k, n in levels.items() if k not in top)
                share = _share([levels[k] for k in top] + [other])
                columns[source] = {"type": "categorical", "levels": [*top, OTHER], "share": share}
            columns[source]["importance"] = importance.get(source, 0.0)
    score_edges = [float(e) for e in np.unique(np.quantile(scores, np.linspace(0.1, 0.9, 9)))]
    return {
        "rows": int(table.num_rows),
        "columns": columns,
        "score": {"type": "numeric", "edges": score_edges, "share": _share(histogram(scores, score_edges))},
        "label_rate": float(np.mean(y)),
    }


def _share(counts: Sequence[float]) -> list[float]:
    total = float(sum(counts))
    return [c / total if total else 0.0 for c in counts]
