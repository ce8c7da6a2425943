"""The JSON types a request may send for the model's columns: one value per column (a number, text,
true/false or null), and no true/false where the model reads a number. Anything else is a 422 that
names the column and the row.

- An array or an object is no value of any column. The encoders would have turned it into text (an
  unseen level) or refused it deep inside a scorer (explanations answered 500).
- The encoders read a boolean as 1.0 or 0.0, as Arrow casts a boolean column to a numeric one, and
  the Python API keeps that. A JSON client is different: a numeric column of the training data never
  held true or false (such a column is encoded as ``boolean``), so a JSON boolean there is a caller's
  bug (a flag sent to the wrong field, a schema drifted upstream), and scoring it as 1.0 would hide it.

The compiled JSON scorer gives up on such bodies by itself, so this check runs only on the Python path:
one set of value types per column, or per row for a single-row request (about 0.5 us).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..features.numeric import FittedNumeric
from ..features.partial import DictRows
from .columns import ColumnRows, RequestRows
from .errors import ServiceError

__all__ = ["check_value_types", "numeric_columns"]

_PLAIN = frozenset({type(None), int, float, str})  # taken by every column as they are
_SCALAR = _PLAIN | {bool}


def numeric_columns(features: Any) -> frozenset[str]:
    """The input columns the model reads as numbers."""
    return frozenset(c.name for c, _ in features.blocks() if isinstance(c, FittedNumeric))


def check_value_types(rows: RequestRows, columns: Sequence[str], numeric: frozenset[str]) -> None:
    if isinstance(rows, ColumnRows) and rows.compiled:
        return
    if isinstance(rows, list) and len(rows) == 1 and set(map(type, rows[0].values())) <= _PLAIN:
        return  # the common single-row request
    readable = rows if isinstance(rows, ColumnRows) else DictRows(rows)
    for name in columns:
        try:
            values = readable.column(name)
        except KeyError:  # a row without the column: the model's own check names it
            values = [row.get(name) for row in rows]  # type: ignore[union-attr]
        types = set(map(type, values))
        if types <= _PLAIN:
            continue
        if not types <= _SCALAR:
            i = next(i for i, v in enumerate(values) if type(v) not in _SCALAR)
            kind = "an array" if isinstance(values[i], list) else "an object"
            raise ServiceError(
                422,
                f"column {name!r} holds {kind}{_where(i, values)}: send one value (a number, text, true/false or null)",
                name,
            )
        if name in numeric:
            i = next(i for i, v in enumerate(values) if isinstance(v, bool))
            raise ServiceError(
                422,
                f"column {name!r} is numeric but holds {str(values[i]).lower()}{_where(i, values)}: send a "
                "number, or null when the value is missing",
                name,
            )


def _where(i: int, values: Sequence[Any]) -> str:
    return f" in row {i}" if len(values) > 1 else ""
