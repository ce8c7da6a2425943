"""Drift of each column and of the score against the training reference, decided by size *and* evidence.

Per column the current rows are binned like the reference (its numeric edges and a missing bin, or
its levels and an ``<other>`` bin for unseen ones) and compared:
  PSI = sum (c - r) ln(c / r); Jensen-Shannon distance (base 2, in [0, 1]); the largest gap between
  the two cumulative distributions over the ordered bins (KS statistic, numeric only); the
  Wasserstein distance over the inner bins in units of the reference's 10-90% range; and the
  chi-square goodness-of-fit p-value of the current counts against the reference shares.
A column has drifted only when the shift is large enough to matter (PSI >= ``psi``, 0.2 by default,
the common "significant shift" mark) *and* the sample makes it unlikely to be noise (p < ``alpha``):
with a million rows a negligible shift is highly significant but small, and with twenty rows a big
PSI is mostly noise — neither is flagged. Columns are ranked by PSI x importance (|coef| x std).

The score is the positive class's raw probability for a binary model; for a multinomial model it is the
raw probability of the predicted class (the model's confidence), whose drift shows rows the model is
less (or more) sure of than it was of its training rows (``score_of``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.stats import chi2

from .._exceptions import ParameterError
from ..features.boolean import truth_of
from ..features.categorical import MISSING_LEVEL, level_counts
from ..features.values import as_float
from ..models import Model
from .reference import histogram

__all__ = [
    "DriftCounts",
    "DriftThresholds",
    "compare",
    "drift_counts",
    "drift_report",
    "drift_report_from_counts",
    "score_of",
]

_FLOOR = 1e-4  # share floor inside the logarithms: an empty bin is "rare", not impossible


@dataclass(frozen=True)
class DriftThresholds:
    psi: float = 0.2
    alpha: float = 0.01


def compare(
    reference: list[float],
    counts: list[float],
    ordered: bool,
    thresholds: DriftThresholds,
    edges: list[float] | None = None,
) -> dict[str, Any]:
    r = np.asarray(reference, dtype=np.float64)
    c_counts = np.asarray(counts, dtype=np.float64)
    n = float(c_counts.sum())
    if n == 0:
        return {"rows": 0, "psi": None, "js": None, "ks": None, "p_value": None, "drift": False}
    c = c_counts / n
    rf, cf = np.maximum(r, _FLOOR), np.maximum(c, _FLOOR)
    psi = float(np.sum((cf - rf) * np.log(cf / rf)))
    m = (r + c) / 2
    js = float(np.sqrt(max(0.5 * _kl(r, m) + 0.5 * _kl(c, m), 0.0)))
    ks = float(np.max(np.abs(np.cumsum(c[:-1]) - np.cumsum(r[:-1])))) if ordered and r.size > 1 else None
    wasserstein = _wasserstein(r, c, edges) if edges is not None and len(edges) > 1 else None
    expected = rf / rf.sum() * n
    statistic = float(np.sum((c_counts - expected) ** 2 / expected))
    p_value = float(chi2.sf(statistic, df=max(int(np.sum(r > 0)) - 1, 1)))
    return {
        "rows": int(n),
        "psi": psi,
        "js": js,
        "ks": ks,
        "wasserstein": wasserstein,
        "p_value": p_value,
        "drift": bool(psi >= thresholds.psi and p_value < thresholds.alpha),
        "current_share": [float(v) for v in c],  # per bin, beside the reference's (for plots)
    }


def _wasserstein(r: np.ndarray, c: np.ndarray, edges: list[float]) -> float:
    """Earth mover's distance between the two binned distributions of the present values, over the
    inner bins (between the reference's 10th and 90th percentiles), in units of that range: 0.1 means
    the mass moved a tenth of the reference's central spread on average."""
    present_r, present_c = r[:-1] / max(r[:-1].sum(), 1e-300), c[:-1] / max(c[:-1].sum(), 1e-300)
    # Between edges i and i+1 each cumulative distribution is the sum of the bins up to i+1.
    gaps = np.abs(np.cumsum(present_c)[1:-1] - np.cumsum(present_r)[1:-1])
    widths = np.diff(np.asarray(edges, dtype=np.float64))
    span = float(edges[-1] - edges[0])
    return float(np.sum(gaps * widths) / span) if span > 0 else 0.0


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))


def score_of(model: Any, table: pa.Table) -> np.ndarray:
    """The score whose drift is watched: the positive class's raw probability (a binary model), or the
    raw probability of the most probable class (a model of more classes)."""
    P = model.predict_proba(table, raw=True)
    return P[:, 1] if isinstance(model, Model) else P.max(axis=1)  # type: ignore[no-any-return]


@dataclass
class DriftCounts:
    """What drift needs of the current rows, mergeable across batches: per reference column its bin counts
    (None when the rows lack the column), the score's bin counts and sum, the row count."""

    rows: int = 0
    columns: dict[str, list[float] | None] = field(default_factory=dict)
    score: list[float] = field(default_factory=list)
    score_sum: float = 0.0

    def merge(self, other: DriftCounts) -> DriftCounts:
        if not self.rows and not self.columns:
            return other
        columns: dict[str, list[float] | None] = {}
        for name in {**self.columns, **other.columns}:
            a, b = self.columns.get(name), other.columns.get(name)
            columns[name] = None if a is None or b is None else [x + y for x, y in zip(a, b, strict=True)]
        score = [x + y for x, y in zip(self.score, other.score, strict=True)] if self.score else other.score
        return DriftCounts(self.rows + other.rows, columns, score, self.score_sum + other.score_sum)


def _reference(model: Any) -> dict[str, Any]:
    reference = model.info.get("reference")
    if not reference:
        raise ParameterError("this model kept no reference statistics (trained before monitoring existed); retrain it")
    return reference  # type: ignore[no-any-return]


def drift_counts(model: Any, table: pa.Table) -> DriftCounts:
    """The counts of ``table``'s rows in the reference's bins (one batch of a stream, or a whole table)."""
    reference = _reference(model)
    booleans = {c.name for c, _ in model.features.blocks() if c.kind == "boolean"}
    columns: dict[str, list[float] | None] = {}
    for name, ref in reference["columns"].items():
        if name not in table.column_names:
            columns[name] = None
            continue
        data = table.column(name)
        if ref["type"] == "numeric":
            columns[name] = [float(v) for v in histogram(as_float(name, data), ref["edges"])]
        else:
            current = level_counts(data)
            known = ref["levels"][:-1]
            if name in booleans:
                current = _in_reference_spelling(current, known)
            counts = [float(current.get(level, 0)) for level in known]
            counts.append(float(sum(n for level, n in current.items() if level not in known)))
            columns[name] = counts
    scores = score_of(model, table)
    score = [float(v) for v in histogram(scores, reference["score"]["edges"])]
    return DriftCounts(int(table.num_rows), columns, score, float(scores.sum()))


def _in_reference_spelling(current: dict[str, int], known: list[str]) -> dict[str, int]:
    """A boolean column's counts with each spelling the encoder reads as true or false ("Yes", "1",
    "TRUE") counted under the training rows' spelling of that value: the model sees no difference, and
    a client sending "Yes" for the 1 of the training file is no drift."""
    spelling: dict[float, str] = {}
    for level in known:
        truth = truth_of(level)
        if truth is not None:
            spelling.setdefault(truth, level)
    out: dict[str, int] = {}
    for level, n in current.items():
        truth = truth_of(level) if level != MISSING_LEVEL else None
        key = spelling.get(truth, level) if truth is not None else level
        out[key] = out.get(key, 0) + n
    return out


def drift_report(model: Any, table: pa.Table, thresholds: DriftThresholds | None = None) -> dict[str, Any]:
    return drift_report_from_counts(model, drift_counts(model, table), thresholds)


def drift_report_from_counts(
    model: Any, current: DriftCounts, thresholds: DriftThresholds | None = None
) -> dict[str, Any]:
    thresholds = thresholds or DriftThresholds()
    reference = _reference(model)
    columns: dict[str, Any] = {}
    for name, ref in reference["columns"].items():
        counts = current.columns.get(name)
        if counts is None:
            columns[name] = {"missing_column": True, "drift": True, "psi": None}
            continue
        if ref["type"] == "numeric":
            result = compare(ref["share"], counts, True, thresholds, ref["edges"])
        else:
            result = compare(ref["share"], counts, False, thresholds)
        result["importance"] = ref.get("importance", 0.0)
        columns[name] = result
    score_edges = reference["score"]["edges"]
    score = compare(reference["score"]["share"], current.score, True, thresholds, score_edges)
    ranked = sorted(
        (n for n, c in columns.items() if c.get("psi") is not None),
        key=lambda n: -(columns[n]["psi"] * columns[n]["importance"]),
    )
    return {
        "rows": current.rows,
        "thresholds": {"psi": thresholds.psi, "alpha": thresholds.alpha},
        "columns": columns,
        "score": score,
        "ranked": ranked,
        "drifted": [n for n in ranked if columns[n]["drift"]]
        + [n for n, c in columns.items() if c.get("missing_column")],
        "any_drift": bool(score["drift"] or any(c["drift"] for c in columns.values())),
        "mean_score": current.score_sum / current.rows if current.rows else None,
    }
