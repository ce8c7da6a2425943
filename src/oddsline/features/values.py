"""How a raw value becomes a number or a category string, once for tables (Arrow) and once for a single
dict row (plain Python) — the two must agree exactly, so they live side by side here.

Missing: None, NaN, or an absent Arrow value. A category is always a string: booleans are "true" /
"false" and integral numbers have no ".0", as Arrow's cast to string writes them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .._exceptions import SchemaError

__all__ = ["as_category", "as_float", "category_of", "distinct_levels", "float_of"]


def as_float(name: str, data: pa.ChunkedArray) -> NDArray[np.float64]:
    """Column as float64 with NaN for missing; a clear error if it holds text that is not a number."""
    if pa.types.is_null(data.type):
        return np.full(len(data), np.nan)
    try:
        as_double = pc.cast(data, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(
            f"column {name!r} must be numeric but holds {data.type} values ({str(exc).splitlines()[0]}); "
            "fix the values (to train on it as text, declare the column categorical in the spec)"
        ) from None
    return np.asarray(as_double.to_numpy(zero_copy_only=False), dtype=np.float64).copy()


def as_category(data: pa.ChunkedArray) -> pa.ChunkedArray:
    """Column as strings: the single representation of a category in training and scoring alike."""
    if pa.types.is_dictionary(data.type):
        data = pc.cast(data, data.type.value_type)
    if pa.types.is_null(data.type):
        return pa.chunked_array([pa.nulls(len(data), pa.string())])
    return pc.cast(data, pa.string())


def distinct_levels(data: pa.ChunkedArray) -> tuple[list[str | None], NDArray[np.int64]]:
    """(each distinct category once and then None for missing, each row's index into that list): the
    encoders look a level up once, not once a row."""
    if pa.types.is_dictionary(data.type) and data.num_chunks == 1 and pa.types.is_string(data.type.value_type):
        # Already dictionary-encoded (a Parquet text column): its dictionary is the distinct values,
        # read once; re-encoding the rows as strings would cost a pass over them.
        encoded = data.chunk(0)
    else:
        encoded = pc.dictionary_encode(as_category(data)).combine_chunks()
    levels: list[str | None] = [*encoded.dictionary.to_pylist(), None]
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    if encoded.null_count:
        indices = np.where(encoded.is_null().to_numpy(zero_copy_only=False), len(levels) - 1, indices)
    return levels, np.asarray(indices, dtype=np.int64)


def float_of(name: str, value: Any) -> float:
    """One raw value as a float (NaN when missing), with the table path's error for text."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SchemaError(
            f"column {name!r} must be numeric but holds {value!r}; fix the value (to train on it as text, "
            "declare the column categorical in the spec)"
        ) from None


def category_of(value: Any) -> str | None:
    """One raw value as its category string (None when missing), as ``as_category`` writes it."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        # Arrow's float formatting ("3", "1e-7") differs from Python's ("3.0", "1e-07"): ask Arrow.
        return str(pa.scalar(value, pa.float64()).cast(pa.string()).as_py())
    return str(value)
