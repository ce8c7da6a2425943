"""A request's rows (or the recent rows) as an Arrow table typed as the encoders read the values, for
the paths that need a table: explanations and the drift measurement.

``pa.Table.from_pylist`` infers each column's type from its values and refuses a column that mixes
them (``true`` beside text in a categorical column, ``"5"`` beside 5 in a numeric one), values the
row scorers take: explanations answered such requests 500, and the drift measurement failed silently
for as long as such a row was among the recent ones. Here a column that Arrow cannot type whole is
converted value by value as the row path converts it: numbers with ``float_of``, the rest as their
category text with ``category_of`` (what the table path's ``as_category`` makes of them).
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa

from ..features.values import category_of, float_of

__all__ = ["rows_table"]


def rows_table(rows: list[dict[str, Any]], numeric: frozenset[str]) -> pa.Table:
    """``rows`` as a table; ``numeric``: the columns the model reads as numbers (float64 here)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    columns = {}
    for name in names:
        columns[name] = _column(name, [row.get(name) for row in rows], name in numeric)
        time.sleep(0)  # offer the GIL between columns: requests in flight should not wait out the whole table
    return pa.table(columns)


def _column(name: str, values: list[Any], numeric: bool) -> pa.Array:
    try:
        return pa.array(values, pa.float64()) if numeric else pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    if numeric:
        return pa.array([float_of(name, v) for v in values], pa.float64())
    return pa.array([category_of(v) for v in values], pa.string())
