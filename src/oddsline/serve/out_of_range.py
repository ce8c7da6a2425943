"""Which rows of a request held a number outside its column's training range, and what the model did
with it, for the answer: ``"out_of_range": {"tenure": "extrapolated"}`` on each such row.

The encoders count these values (``oddsline_input_events_total{event="out_of_range"}``) but score
row by row only where a value is unusual, and keep no row numbers. So the rows are found again here,
and only when the count says there are some: a request without such values costs nothing more.
"""

from __future__ import annotations

import math
from typing import Any

from .._exceptions import SchemaError
from ..features.numeric import FittedNumeric
from ..features.partial import DictRows
from ..features.values import float_of
from .columns import ColumnRows, RequestRows

__all__ = ["ACTIONS", "out_of_range_rows"]

# What the column's out_of_range setting did to the value ("error" refuses the request instead).
ACTIONS = {"count": "extrapolated", "clip": "clipped"}


def out_of_range_rows(features: Any, rows: RequestRows, columns: list[str]) -> list[dict[str, Any]]:
    """Per row, ``{"out_of_range": {column: action}}`` for the ``columns`` the report counted, or ``{}``."""
    numeric = {c.name: c for c, _ in features.blocks() if isinstance(c, FittedNumeric) and c.name in columns}
    flags: list[dict[str, str]] = [{} for _ in range(len(rows))]
    readable = rows if isinstance(rows, ColumnRows) else DictRows(rows)
    for name, column in numeric.items():
        for i, raw in enumerate(readable.column(name)):
            try:
                v = float_of(name, raw)  # the value as the encoder read it
            except (SchemaError, OverflowError):  # not a number: the encoder refused or counted it otherwise
                continue
            if not math.isnan(v) and (v < column.low or v > column.high):
                flags[i][name] = ACTIONS.get(column.out_of_range, column.out_of_range)
    return [{"out_of_range": flag} if flag else {} for flag in flags]
