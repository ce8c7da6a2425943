"""The rows of the prediction log as a table, read the way the server read them.

The log keeps each row's JSON as the request spelled it. A column can hold numbers in one request and
the text "NaN" (or "3.5") in another, which the server's row path accepted (a string becomes a float
where the model expects a number). Arrow cannot build one column from such a mix, so a mixed column is
converted value by value with the row path's own functions: what was scored is what is monitored.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from .._exceptions import SchemaError
from ..features import FittedFeatures
from ..features.values import category_of, float_of

__all__ = ["logged_table"]

_NUMERIC_KINDS = ("numeric", "passthrough")


def logged_table(features_json: list[str], features: FittedFeatures) -> pa.Table:
    rows = [json.loads(text) for text in features_json]
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    numeric = {s for c in features.columns if c.kind in _NUMERIC_KINDS for s in c.sources}
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            columns[name] = _as_the_row_path_read(name, values, name in numeric)
    return pa.table(columns)


def _as_the_row_path_read(name: str, values: list[Any], numeric: bool) -> pa.Array:
    if numeric:
        converted: list[float | None] = []
        for value in values:
            try:
                converted.append(float_of(name, value))
            except SchemaError:  # refused by the server too: it cannot have been scored; keep it missing
                converted.append(None)
        return pa.array(converted, pa.float64())
    return pa.array([category_of(v) if not isinstance(v, (dict, list)) else None for v in values], pa.string())
