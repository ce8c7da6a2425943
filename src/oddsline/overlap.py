"""Does a table share rows with the training rows? A bottom-k sketch of row hashes answers without the data.

At training, every training row (its feature columns and the target) is hashed to 64 bits and the
``SKETCH_SIZE`` smallest hashes are kept in the model. They are a uniform sample of the training rows'
hash space with an exact property: every training row whose hash is at most the largest kept one is
in the sketch. So, for a table to evaluate, the share of its rows in that hash range that are in the
sketch estimates, without bias, the share of its rows that were training rows — 80% when a user
evaluates on the file the model was trained on, about 0 on fresh rows. Metrics computed on training
rows are optimistic; ``evaluate`` reports the share and the command warns.

Hashes: numbers (and booleans) by their float64 bits, text through a keyed BLAKE2b of each distinct
value, combined column by column with the splitmix64 finaliser — vectorised, so hashing costs about a
pass over the table. Integers and floats of equal value hash alike (CSV and Parquet agree).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

__all__ = ["SKETCH_SIZE", "overlap_share", "row_hashes", "training_sketch"]

SKETCH_SIZE = 1024
_MIN_ROWS_IN_RANGE = 20  # fewer evaluated rows fall in the sketch's range: no estimate
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(h: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64's finaliser: every input bit flips about half of the output bits."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _column_hash(data: pa.ChunkedArray) -> NDArray[np.uint64]:
    kind = data.type
    if pa.types.is_dictionary(kind):
        data, kind = pc.cast(data, kind.value_type), kind.value_type
    if (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
    ):
        values = np.asarray(pc.cast(data, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        values = np.where(np.isnan(values), np.nan, values + 0.0)  # one NaN, and -0.0 as 0.0
        return _mix(values.view(np.uint64) + _GOLDEN)
    encoded = pc.dictionary_encode(pc.cast(data, pa.string())).combine_chunks()
    digests = np.array(
        [
            int.from_bytes(hashlib.blake2b(v.encode("utf-8"), digest_size=8, key=b"oddsline-rows").digest(), "little")
            for v in encoded.dictionary.to_pylist()
        ]
        + [0x5BD1E995],  # missing
        dtype=np.uint64,
    )
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    if encoded.null_count:
        indices = np.where(encoded.is_null().to_numpy(zero_copy_only=False), len(digests) - 1, indices)
    return digests[np.asarray(indices, dtype=np.int64)]


def row_hashes(table: pa.Table, columns: list[str]) -> NDArray[np.uint64]:
    """One 64-bit hash per row of the named columns (in that order)."""
    h = np.full(table.num_rows, np.uint64(len(columns)), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in columns:
            h = _mix(h * _GOLDEN + _column_hash(table.column(name)))
    return h


def training_sketch(table: pa.Table, columns: list[str]) -> dict[str, Any]:
    """The bottom-k sketch of the training rows, JSON-ready (hashes as hex strings)."""
    hashes = np.unique(row_hashes(table, columns))[:SKETCH_SIZE]
    return {"columns": list(columns), "rows": int(table.num_rows), "hashes": [f"{int(h):016x}" for h in hashes]}


def overlap_share(sketch: dict[str, Any], table: pa.Table) -> float | None:
    """Estimated share of ``table``'s rows that were training rows (None: too few rows to say, or the
    table lacks a sketched column)."""
    columns = sketch.get("columns", [])
    if not sketch.get("hashes") or any(c not in table.column_names for c in columns):
        return None
    kept = np.array([int(h, 16) for h in sketch["hashes"]], dtype=np.uint64)
    hashes = row_hashes(table, columns)
    # Every training row hashed at most kept.max() is in the sketch, unless the sketch holds them all.
    limit = kept.max() if len(kept) >= SKETCH_SIZE else np.uint64(np.iinfo(np.uint64).max)
    in_range = hashes[hashes <= limit]
    if in_range.size < _MIN_ROWS_IN_RANGE and len(kept) >= SKETCH_SIZE:
        return None
    if in_range.size == 0:
        return None
    return float(np.isin(in_range, kept).mean())
