"""Target encoding on a stream: the encoder from every training row, the training design cross-fitted.

The summary pass counts rows per (level, fold, label); a row's fold is its position hash modulo
``folds``, so the folds are the same on every pass and engine. From the counts: the encoder kept for
scoring (each level's smoothed log-odds over all training rows, as ``fit_target_encoding``) and, per
fold, the table fitted without that fold, which encodes that fold's rows in the training design (a row
never sees its own label). The in-memory fit draws its folds from a seeded permutation instead, so the
two training designs differ by which rows share a fold; the encoders kept for scoring are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ..features.categorical import MISSING_LEVEL
from ..features.target_encoding import FittedTargetEncoding
from ..features.values import as_category

__all__ = ["TargetFolds", "count_levels", "fit_target_folds", "fold_of"]

Counts = dict[tuple[str, int, Any], int]  # (level, fold, label) -> rows


def count_levels(data: pa.ChunkedArray, labels: pa.ChunkedArray, folds: NDArray[np.int64]) -> Counts:
    """Rows per (level, fold, label) of one batch."""
    levels = pc.dictionary_encode(as_category(data)).combine_chunks()
    names = [MISSING_LEVEL if v is None else v for v in levels.dictionary.to_pylist()] + [MISSING_LEVEL]
    codes = np.asarray(levels.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    if levels.null_count:
        codes = np.where(levels.is_null().to_numpy(zero_copy_only=False), len(names) - 1, codes)
    target = pc.dictionary_encode(labels).combine_chunks()
    label_values = target.dictionary.to_pylist()
    label_codes = np.asarray(target.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    n_folds = int(folds.max()) + 1 if folds.size else 1
    key = (codes * n_folds + folds) * len(label_values) + label_codes
    unique, counts = np.unique(key, return_counts=True)
    out: Counts = {}
    for k, n in zip(unique.tolist(), counts.tolist(), strict=True):
        code, rest = divmod(k, n_folds * len(label_values))
        fold, label = divmod(rest, len(label_values))
        entry = (names[code], fold, label_values[label])
        out[entry] = out.get(entry, 0) + n
    return out


@dataclass(frozen=True)
class TargetFolds:
    """The out-of-fold encodings of one column: ``tables[k, i]`` encodes level ``levels[i]`` in fold k."""

    name: str
    levels: tuple[str, ...]
    tables: NDArray[np.float64]

    @property
    def folds(self) -> int:
        return int(self.tables.shape[0])

    def values(self, data: pa.ChunkedArray, position_hash: NDArray[np.uint64]) -> NDArray[np.float64]:
        index = {level: i for i, level in enumerate(self.levels)}
        encoded = pc.dictionary_encode(as_category(data)).combine_chunks()
        lookup = np.array(
            [index[MISSING_LEVEL if v is None else v] for v in encoded.dictionary.to_pylist()]
            + [index.get(MISSING_LEVEL, 0)]
        )
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        if encoded.null_count:
            codes = np.where(encoded.is_null().to_numpy(zero_copy_only=False), lookup.size - 1, codes)
        fold = fold_of(position_hash, self.folds)
        return np.asarray(self.tables[fold, lookup[codes]], dtype=np.float64)


def fold_of(position_hash: NDArray[np.uint64], folds: int) -> NDArray[np.int64]:
    return np.asarray(position_hash % np.uint64(folds), dtype=np.int64)


def fit_target_folds(
    name: str, counts: Counts, positive: dict[Any, float], options: dict[str, Any]
) -> tuple[FittedTargetEncoding, TargetFolds]:
    """(the encoder kept for scoring, the per-fold tables of the training design)."""
    folds, m = int(options["folds"]), float(options["smoothing"])
    levels = list(dict.fromkeys(level for level, _, _ in counts))
    at = {level: i for i, level in enumerate(levels)}
    rows = np.zeros((folds, len(levels)))
    positives = np.zeros((folds, len(levels)))
    for (level, fold, label), n in counts.items():
        rows[fold, at[level]] += n
        positives[fold, at[level]] += n * positive[label]
    total_rows, total_positives = rows.sum(axis=0), positives.sum(axis=0)
    rate = float(total_positives.sum() / total_rows.sum())
    full = _logit((total_positives + m * rate) / (total_rows + m))
    encoder = FittedTargetEncoding(name, tuple(levels), tuple(float(v) for v in full), float(_logit(rate)))
    tables = np.empty((folds, len(levels)))
    for k in range(folds):
        rest_rows, rest_positives = total_rows - rows[k], total_positives - positives[k]
        fold_rate = float(rest_positives.sum() / rest_rows.sum()) if rest_rows.sum() else rate
        tables[k] = _logit((rest_positives + m * fold_rate) / (rest_rows + m))
    return encoder, TargetFolds(name, tuple(levels), tables)


def _logit(p: Any) -> Any:
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)
