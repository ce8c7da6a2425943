"""High-cardinality categoricals: cross-fitted target encoding, in log-odds.

The encoding of a level is the logit of its smoothed positive rate,
    (positives + smoothing * prior) / (rows + smoothing),
so a rare level is pulled toward the overall rate. Scoring uses the rates of all training rows. The
training design matrix must not: a row's own label would then be part of its own feature, and the
model would learn to trust the encoding far more than it deserves (target leakage). So each training
row is encoded from the other K-1 folds only (``fit_transform``), as in CatBoost's and
scikit-learn's ``TargetEncoder``. Missing is the level ``<missing>``; an unseen level gets the prior,
counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .categorical import MISSING_LEVEL
from .report import TransformReport
from .values import as_category, category_of, distinct_levels

__all__ = ["TARGET_DEFAULTS", "FittedTargetEncoding", "fit_target_encoding"]

TARGET_DEFAULTS: dict[str, Any] = {"folds": 5, "smoothing": 10.0, "seed": 0}


def _logit(p: NDArray[np.float64] | float) -> Any:
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class FittedTargetEncoding:
    name: str
    levels: tuple[str, ...]
    encodings: tuple[float, ...]
    prior: float  # logit of the overall positive rate: the encoding of an unseen level
    _index: dict[str, float] = field(init=False, repr=False, compare=False)

    kind = "target"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", dict(zip(self.levels, self.encodings, strict=True)))

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def design_names(self) -> list[str]:
        return [f"{self.name}:target_logodds"]

    def encode(self, table: pa.Table, out: NDArray[np.float64], report: TransformReport) -> None:
        levels, indices = distinct_levels(table.column(self.name))
        lookup = np.array([self._index.get(MISSING_LEVEL if v is None else v, math.nan) for v in levels])
        values = lookup[indices]
        unseen = np.isnan(values)
        if unseen.any():
            report.add("unseen", self.name, int(unseen.sum()))
            values[unseen] = self.prior
        out[:, 0] = values

    def encode_row(self, row: dict[str, Any], report: TransformReport) -> list[tuple[int, float]]:
        level = category_of(row[self.name])
        value = self._index.get(MISSING_LEVEL if level is None else level)
        if value is None:
            report.add("unseen", self.name)
            value = self.prior
        return [(0, value)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "levels": list(self.levels),
            "encodings": list(self.encodings),
            "prior": self.prior,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FittedTargetEncoding:
        return cls(d["name"], tuple(d["levels"]), tuple(float(v) for v in d["encodings"]), float(d["prior"]))


def _codes(data: pa.ChunkedArray) -> tuple[list[str], NDArray[np.int64]]:
    encoded = pc.dictionary_encode(as_category(data)).combine_chunks()
    levels = [MISSING_LEVEL if v is None else v for v in encoded.dictionary.to_pylist()]
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    if encoded.null_count:
        levels.append(MISSING_LEVEL)
        indices = np.where(encoded.is_null().to_numpy(zero_copy_only=False), len(levels) - 1, indices)
    return levels, indices.astype(np.int64)


def _smoothed(codes: NDArray[np.int64], y: NDArray[np.float64], n_levels: int, prior_rate: float, m: float) -> Any:
    positives = np.bincount(codes, weights=y, minlength=n_levels)
    rows = np.bincount(codes, minlength=n_levels)
    return _logit((positives + m * prior_rate) / (rows + m))


def fit_target_encoding(
    name: str, data: pa.ChunkedArray, y: NDArray[np.float64], options: dict[str, Any]
) -> tuple[FittedTargetEncoding, NDArray[np.float64]]:
    """(the encoder for scoring, the out-of-fold encoding of every training row)."""
    levels, codes = _codes(data)
    m = float(options["smoothing"])
    rate = float(y.mean())
    full = _smoothed(codes, y, len(levels), rate, m)
    # Duplicate dictionary entries (a null and "<missing>" both) keep the first: they are one level.
    seen: dict[str, float] = {}
    for level, value in zip(levels, full, strict=True):
        seen.setdefault(level, float(value))
    fitted = FittedTargetEncoding(name, tuple(seen), tuple(seen.values()), float(_logit(rate)))
    folds = int(options["folds"])
    fold_of = np.random.default_rng(int(options["seed"])).permutation(codes.shape[0]) % folds
    out_of_fold = np.empty(codes.shape[0])
    for k in range(folds):
        held = fold_of == k
        rest = ~held
        fold_rate = float(y[rest].mean())
        table = _smoothed(codes[rest], y[rest], len(levels), fold_rate, m)
        out_of_fold[held] = table[codes[held]]
    return fitted, out_of_fold
