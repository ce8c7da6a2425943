"""Numbers written as text: decimal commas, placeholders for missing, and values that are not numbers.

Arrow's CSV reader knows only the decimal point. A European Excel export writes ``1.234,56`` (``.``
groups thousands, ``,`` marks the decimals) with ``;`` between fields, and Arrow reads such a column as
text. ``convert_decimal_commas`` turns a text column back into float64 when every value is written
that way (``29,85``, ``1.889,50`` or a plain integer ``70``) and at least one has a comma; this is
done only when the comma is not the delimiter. The conversion drops the thousands dots and reads the
comma as the point, so ``1.889,50`` gives exactly the float64 of ``1889.50``. In such a file a column of
whole numbers with thousands dots only (``1.507``, ``850``) is 1507 and 850, not 1.507: the file's
decimal mark is the comma, and Arrow, which knows only the point, read it as decimals
(``thousands_dots``); a column whose dotted values are not all grouped in threes is left as Arrow reads it.

Spreadsheets also export formatted numbers: ``$1,234.50``, ``€29.85``, ``1,234`` (a thousands comma,
quoted in a comma-separated file). ``convert_formatted_numbers`` turns a text column back into float64
when every value is a number so written, with a currency sign (``$ € £``) or thousands commas in at
least one; plain numbers beside them are fine. Read as text, such a column became a categorical of one
level per amount, or was left out as an identifier. Not in decimal-comma files, where the comma is the
decimal mark, and not percentages (``15%`` may mean 15 or 0.15).

``parse_numbers`` is the per-value version for batch scoring, which must count the values that are
not numbers rather than fail on the first; it reads both spellings too, so that a file scores as it
trained.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ._exceptions import DataError

__all__ = [
    "check_placeholders",
    "convert_decimal_commas",
    "convert_formatted_numbers",
    "formatted_numbers",
    "parse_numbers",
    "thousands_dots",
]

# Arrow's float grammar: sign, digits with an optional point, exponent; inf/infinity/nan in any case.
_NUMBER = r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])$"
_DECIMAL_COMMA = r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$"
_PLACEHOLDER = r"^[^\w\s]+$"  # punctuation only: ?, -, --, ., *
_THOUSANDS = r"^[+-]?\d{1,3}(\.\d{3})+$"
_INTEGER = r"^[+-]?\d+$"
_FORMATTED = r"^[+-]?[$€£]?\s?[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$"
_DECORATION = r"[$€£,\s]"  # what a formatted number loses to become a plain one
_SIGNS = r"[$€£,]"  # at least one of these: the column is formatted, not plain numbers read as text


def _from_decimal_comma(strings: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.cast(pc.replace_substring(pc.replace_substring(strings, ".", ""), ",", "."), pa.float64())


def convert_decimal_commas(table: pa.Table) -> pa.Table:
    """``table`` with every decimal-comma text column as float64 (see the module docstring)."""
    for i, name in enumerate(table.column_names):
        column = table.column(i)
        if not pa.types.is_string(column.type) or column.null_count == len(column):
            continue
        if not pc.all(pc.match_substring_regex(column, _DECIMAL_COMMA)).as_py():
            continue
        if pc.any(pc.match_substring(column, ",")).as_py():
            table = table.set_column(i, name, _from_decimal_comma(pc.utf8_trim_whitespace(column)))
    return table


def convert_formatted_numbers(table: pa.Table) -> pa.Table:
    """``table`` with every text column of currency- or thousands-formatted numbers as float64 (a column
    of plain numbers in text stays text: something else in the file made Arrow read it so)."""
    for i, name in enumerate(table.column_names):
        column = table.column(i)
        if not pa.types.is_string(column.type) or not pc.any(pc.match_substring_regex(column, _SIGNS)).as_py():
            continue
        numbers = formatted_numbers(column)
        if numbers is not None:
            table = table.set_column(i, name, numbers)
    return table


def thousands_dots(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array | None:
    """A decimal-comma file's text column of whole numbers grouped by dots (``1.507``, ``850``) as
    float64; None unless every value is so written and one has a dot."""
    if column.null_count == len(column):
        return None
    trimmed = pc.utf8_trim_whitespace(column)
    grouped = pc.match_substring_regex(trimmed, _THOUSANDS)
    whole = pc.or_(grouped, pc.match_substring_regex(trimmed, _INTEGER))
    if not pc.all(whole).as_py() or not pc.any(grouped).as_py():
        return None
    return pc.cast(pc.replace_substring(trimmed, ".", ""), pa.float64())


def formatted_numbers(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array | None:
    """A text column of numbers, plain or formatted, as float64; None if a value is not one. For a
    batch of a file whose column is text as a whole (another batch holds ``$1,234.50``)."""
    if column.null_count == len(column):
        return None
    trimmed = pc.utf8_trim_whitespace(column)
    if not pc.all(pc.match_substring_regex(trimmed, _FORMATTED)).as_py():
        return None
    return _from_formatted(trimmed)


def _from_formatted(strings: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.cast(pc.replace_substring_regex(strings, _DECORATION, ""), pa.float64())


def check_placeholders(table: pa.Table, source: str, *, decimal_comma: bool) -> None:
    """Refuse a text column of numbers spoiled by a placeholder such as ``?`` or ``-``.

    Read as it is, the column would become categorical with one level per distinct number; the user
    almost surely means the placeholder as missing, and ``--na-values`` says so.
    """
    for name in table.column_names:
        column = table.column(name)
        if not pa.types.is_string(column.type):
            continue
        levels = pc.utf8_trim_whitespace(pc.unique(column).drop_null())
        numeric = pc.match_substring_regex(levels, _NUMBER)
        if decimal_comma:
            numeric = pc.or_(numeric, pc.match_substring_regex(levels, _DECIMAL_COMMA))
        others = levels.filter(pc.invert(numeric))
        if len(others) == len(levels) or len(others) > 3:
            continue  # text, or numbers mixed with words: a categorical column
        if not pc.all(pc.match_substring_regex(others, _PLACEHOLDER)).as_py():
            continue
        markers = others.to_pylist()
        raise DataError(
            f"{source}: column {name!r} holds numbers and the placeholder(s) {', '.join(map(repr, markers))}; "
            f"if they mean missing, give --na-values '{','.join(markers)}' (na_values={markers!r} in Python)"
        )


def parse_numbers(strings: pa.Array, *, decimal_comma: bool) -> tuple[pa.Array, NDArray[np.bool_]]:
    """(float64 values, null where missing or not a number; mask of the values that are not numbers).

    With ``decimal_comma``, a value that is not a plain number but is written ``1.234,56`` counts as
    one, and a batch of whole numbers grouped by dots (``1.507``, ``850``) is read as ``thousands_dots``
    reads a column.
    """
    trimmed = pc.utf8_trim_whitespace(strings)
    if decimal_comma:
        grouped = thousands_dots(trimmed)
        if grouped is not None:
            return grouped, np.zeros(len(strings), dtype=bool)
    try:
        return pc.cast(trimmed, pa.float64()), np.zeros(len(strings), dtype=bool)
    except pa.ArrowInvalid:
        pass
    plain = pc.fill_null(pc.match_substring_regex(trimmed, _NUMBER), True)
    missing = pa.scalar(None, pa.string())
    values, refused = _cast_or_refuse(pc.if_else(plain, trimmed, missing))
    plain = pc.and_(plain, pc.invert(pa.array(refused)))
    numbers = plain
    if decimal_comma:
        comma = pc.and_(pc.invert(plain), pc.fill_null(pc.match_substring_regex(trimmed, _DECIMAL_COMMA), False))
        values = pc.if_else(comma, _from_decimal_comma(pc.if_else(comma, trimmed, missing)), values)
        numbers = pc.or_(plain, comma)
    else:
        formatted = pc.and_(pc.invert(plain), pc.fill_null(pc.match_substring_regex(trimmed, _FORMATTED), False))
        values = pc.if_else(formatted, _from_formatted(pc.if_else(formatted, trimmed, missing)), values)
        numbers = pc.or_(plain, formatted)
    bad = np.asarray(pc.invert(numbers).to_numpy(zero_copy_only=False), dtype=bool)
    return values, bad


def _cast_or_refuse(strings: pa.Array) -> tuple[pa.Array, NDArray[np.bool_]]:
    """Cast to float64; should ``_NUMBER`` ever admit a spelling Arrow refuses, that value is refused."""
    try:
        return pc.cast(strings, pa.float64()), np.zeros(len(strings), dtype=bool)
    except pa.ArrowInvalid:
        values: list[float | None] = []
        for value in strings.to_pylist():
            try:
                values.append(None if value is None else pc.cast(pa.scalar(value), pa.float64()).as_py())
            except pa.ArrowInvalid:
                values.append(None)
        refused = np.array([v is None for v in values]) & np.asarray(strings.is_valid().to_numpy(zero_copy_only=False))
        return pa.array(values, pa.float64()), refused
