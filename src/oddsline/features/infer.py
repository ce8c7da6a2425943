"""Proposing an encoding for every column of a table, with the reason for each choice — and leaving out,
with the reason, the columns that cannot help a model or would hurt it.

Left out (never an error, so `oddsline train` works on a raw export):
- empty columns and constant ones (one value in every row): nothing to learn;
- identifiers: text whose values are nearly all distinct, integers named like a key (``id``,
  ``customer_nr``, ``flight``) that are nearly all distinct, integers that count the rows (each the
  one before plus one, over at least ``ROW_NUMBER_MIN_ROWS`` rows: an export's row number, whatever
  its name), and a pandas index stored in the file with one value per row — a row's own label would
  be memorised, or the file's order learnt;
- dates written other than ISO-8601 (12/31/2020, 2020/12/31, Dec 31, 2020), beyond one-hot's levels:
  as categories no new row would share one; the reason says to write them YYYY-MM-DD;
- columns the caller names (``ignore``), the target, pandas' stored index (read away in io).

Kinds: numbers -> numeric (0/1 -> boolean); true/false, yes/no, y/n text -> boolean; ISO-8601 text ->
datetime; integers named like a code (``flight``, ``zip_code``) -> categorical or target-encoded, never
standardised as a quantity; other text -> one-hot up to 50 levels, target-encoded beyond.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from .._exceptions import SchemaError
from .boolean import looks_boolean
from .datetime_parts import timestamps_from_text
from .values import as_category

__all__ = ["IDENTIFIER_SHARE", "ONE_HOT_MAX_LEVELS", "ROW_NUMBER_MIN_ROWS", "ColumnChoice", "choose_encoding"]

# A text column with at most this many levels is one-hot encoded, above it target-encoded; one whose
# levels are nearly all distinct looks like an identifier and is left out.
ONE_HOT_MAX_LEVELS = 50
IDENTIFIER_SHARE = 0.9
# Consecutive integers over at least this many rows are a row number, not a quantity (a shorter run,
# 1990..2019 a row each, may well be a year).
ROW_NUMBER_MIN_ROWS = 100
# What pandas names its unnamed index when it writes a CSV (DataFrame.to_csv without index=False), and
# reads back: a row number of some earlier order of the rows, whatever their order now.
_PANDAS_INDEX_NAME = re.compile(r"^Unnamed: \d+$")
# The last word of a column name that says "this integer is a label, not a quantity".
# ("no" and "num" are not among them: `smoking_yes_cancer_no` and `visits_num` are counts.)
_CODE_WORDS = frozenset({"id", "key", "code", "nr", "number", "flight", "zip", "zipcode", "postcode"})
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_SAMPLE = 2000  # values looked at to decide that text holds timestamps (then the whole column is cast)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_OTHER_DATE = re.compile(
    rf"^(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{4}}[/.]\d{{1,2}}[/.]\d{{1,2}}|\d{{1,2}}[ -]{_MONTH}[ -]\d{{2,4}}"
    rf"|{_MONTH} \d{{1,2}},? \d{{4}})"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?(?: ?[ap]\.?m\.?)?)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ColumnChoice:
    """The kind proposed for one column (None: left out) and why."""

    name: str
    kind: str | None
    reason: str


def choose_encoding(name: str, data: pa.ChunkedArray, *, pandas_index: bool = False) -> ColumnChoice:
    """``pandas_index``: the column is a DataFrame's named index stored by pandas (its metadata says so)."""
    column_type = data.type
    present = len(data) - data.null_count
    if pa.types.is_null(column_type) or present == 0:
        return ColumnChoice(name, None, "empty in every row")
    if pandas_index and data.null_count == 0 and pc.count_distinct(data).as_py() == len(data):
        return ColumnChoice(name, None, "identifier: the pandas index of the file, one value per row")
    if pa.types.is_boolean(column_type):
        return _constant_or(name, data, ColumnChoice(name, "boolean", "true/false values"))
    if pa.types.is_timestamp(column_type) or pa.types.is_date(column_type):
        return _constant_or(
            name, data, ColumnChoice(name, "datetime", f"{column_type}: hour, day of week, month and age")
        )
    if pa.types.is_integer(column_type) or pa.types.is_floating(column_type) or pa.types.is_decimal(column_type):
        return _numeric(name, data, present)
    if pa.types.is_string(column_type) or pa.types.is_large_string(column_type) or pa.types.is_dictionary(column_type):
        return _text(name, data, present)
    raise SchemaError(
        f"column {name!r} has type {column_type}, which oddsline cannot encode; "
        f"ignore it (--ignore {name}) or convert it to a number, text or timestamp first"
    )


def _counts_rows(data: pa.ChunkedArray, distinct: int) -> bool:
    if not pa.types.is_integer(data.type) or data.null_count or distinct != len(data):
        return False
    if len(data) < ROW_NUMBER_MIN_ROWS:
        return False
    values = data.to_numpy()
    return bool(values[-1] - values[0] == len(values) - 1 and (values[1:] > values[:-1]).all())


def _constant_or(name: str, data: pa.ChunkedArray, choice: ColumnChoice) -> ColumnChoice:
    distinct = pc.count_distinct(data, mode="only_valid").as_py()
    if distinct == 1 and data.null_count == 0:
        value = pc.min(as_category(data)).as_py()
        return ColumnChoice(name, None, f"constant: {value!r} in every row")
    return choice


def _numeric(name: str, data: pa.ChunkedArray, present: int) -> ColumnChoice:
    distinct = int(pc.count_distinct(data, mode="only_valid").as_py())
    if distinct == 1 and data.null_count == 0:
        return ColumnChoice(name, None, f"constant: {pc.min(data).as_py()!r} in every row")
    if distinct == 1:  # as a number it would be constant once imputed: only whether it is missing informs
        return ColumnChoice(
            name, "categorical", f"one value ({pc.min(data).as_py()!r}) or missing: one-hot of value and <missing>"
        )
    if distinct <= 2 and looks_boolean(data):
        return ColumnChoice(name, "boolean", "numbers taking only the values 0 and 1")
    if pa.types.is_integer(data.type) and _PANDAS_INDEX_NAME.match(name) and distinct == len(data):
        return ColumnChoice(name, None, "identifier: the index pandas wrote into the file, one value per row")
    if _counts_rows(data, distinct):
        first, last = pc.min(data).as_py(), pc.max(data).as_py()
        return ColumnChoice(
            name, None, f"identifier: the row number ({first} to {last}, each row the one before plus one)"
        )
    if pa.types.is_integer(data.type) and _named_like_code(name) and distinct > 2:
        if distinct >= IDENTIFIER_SHARE * present:
            return ColumnChoice(
                name, None, f"identifier: integers named like a key, {distinct} distinct values in {present} rows"
            )
        if distinct <= ONE_HOT_MAX_LEVELS:
            return ColumnChoice(name, "categorical", f"integer code ({distinct} values, named like a code): one-hot")
        return ColumnChoice(
            name,
            "target",
            f"integer code ({distinct} values, named like a code, not a quantity): cross-fitted target encoding",
        )
    return ColumnChoice(name, "numeric", f"{data.type}, {distinct} distinct values: median-imputed, standardised")


def _text(name: str, data: pa.ChunkedArray, present: int) -> ColumnChoice:
    text = as_category(data)
    levels = int(pc.count_distinct(text, mode="all").as_py())  # missing is a level of its own
    if levels == 1 and data.null_count == 0:
        return ColumnChoice(name, None, f"constant: {pc.min(text).as_py()!r} in every row")
    if levels <= 2 and looks_boolean(data):
        return ColumnChoice(name, "boolean", "text spelling true/false, yes/no or 1/0")
    if _holds_timestamps(text):
        return ColumnChoice(name, "datetime", "ISO-8601 timestamps in text: hour, day of week, month and age")
    if levels <= ONE_HOT_MAX_LEVELS:
        return ColumnChoice(name, "categorical", f"text with {levels} levels: one-hot")
    example = _other_dates(text)
    if example is not None:
        # As categories, dates would be levels no new row shares (or an identifier, for the wrong reason).
        return ColumnChoice(
            name,
            None,
            f"dates not written YYYY-MM-DD (such as {example!r}): written so (ISO 8601), they give hour, "
            "day of week, month and age",
        )
    if levels >= IDENTIFIER_SHARE * present:
        return ColumnChoice(
            name, None, f"identifier: {levels} distinct values in {present} rows cannot generalise to new rows"
        )
    return ColumnChoice(
        name, "target", f"text with {levels} levels (> {ONE_HOT_MAX_LEVELS}): cross-fitted target encoding"
    )


def _named_like_code(name: str) -> bool:
    words = [w for w in re.split(r"[^0-9a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()) if w]
    return bool(words) and words[-1] in _CODE_WORDS


def _other_dates(text: pa.ChunkedArray) -> str | None:
    """A sampled value, if nearly all sampled values are dates written some other way than ISO-8601
    (12/31/2020, 31.12.2020, 2020/12/31, 31-Dec-2020, Dec 31, 2020; a time of day may follow)."""
    sample = pc.drop_null(text.slice(0, _SAMPLE)).to_pylist()
    matched = [v for v in sample if _OTHER_DATE.match(v.strip())]
    return matched[0] if sample and len(matched) >= 0.95 * len(sample) else None


def _holds_timestamps(text: pa.ChunkedArray) -> bool:
    """Every sampled value is ISO-8601 and the whole column casts to timestamps (as the encoder will)."""
    sample = pc.drop_null(text.slice(0, _SAMPLE)).to_pylist()
    if not sample or not all(_ISO_DATETIME.match(v) for v in sample):
        return False
    try:
        timestamps_from_text(text)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True
