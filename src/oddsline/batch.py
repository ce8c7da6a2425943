"""Batch scoring of files too large to hold: read in record batches, score, append to the output.

Memory stays at one batch (default 65,536 rows) whatever the file size; the output is written under a
temporary name and renamed at the end, so an interrupted run leaves no partial file. A file with a
header and no rows gives a valid output with the same columns and no rows. Input events (imputed
values, unseen levels, ...) are counted across the whole file.

Bad values: a value the model's features cannot read (``abc`` in a numeric column, ``maybe`` in a
boolean one, a timestamp that does not parse) follows ``on_bad_value``: ``missing`` scores it as
missing (imputed as the model imputes) and counts it under the event ``bad_value`` of the report's
``counts``, by column; ``error`` stops at the first with the column, the data row (1 is the row after
the header) and the value. The default (None) is ``missing`` for stray values, but a column of which
not one value can be read is refused, and no output is left: that is a file whose column is not what
the model was trained on (another export's format, a shifted column), and every row's score would
rest on an imputed value. The ``--id`` column is copied, not scored: it is not an unexpected column.

Output columns: a binary model writes ``probability`` (of the positive class) and ``prediction`` (the
label at its threshold); a multinomial model ``probability_CLASS`` for each class, in the model's class
order, and ``prediction`` (the most probable class).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from numpy.typing import NDArray

from ._exceptions import DataError, ParameterError, SchemaError
from .batch_reader import BatchFile, open_batches
from .csv_numbers import parse_numbers
from .features import TransformReport
from .features.interaction import FittedInteraction
from .features.values import as_category
from .io import atomic_path
from .models import Model, ScoringModel

if TYPE_CHECKING:
    from .features import FittedFeatures
    from .features.fitted import FittedColumn

__all__ = ["BAD_VALUE", "ON_BAD_VALUE", "iter_batches", "probability_columns", "score_file"]

BAD_VALUE = "bad_value"  # the report event of values scored as missing because they could not be read
ON_BAD_VALUE = ("missing", "error")
_EXPECTED = {"number": "a number", "boolean": "true/false, yes/no or 1/0", "datetime": "an ISO-8601 timestamp"}


def iter_batches(path: str | os.PathLike[str], batch_rows: int = 65_536) -> Iterable[pa.Table]:
    """The file's rows, ``batch_rows`` at a time, as ``open_batches`` reads them (CSV columns as text)."""
    return open_batches(path, batch_rows).batches


def score_file(
    model: ScoringModel,
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    id_column: str | None = None,
    batch_rows: int = 65_536,
    on_bad_value: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    na_values: Iterable[str] | None = None,
) -> tuple[int, TransformReport]:
    """Score every row of ``source`` into ``out`` (.csv or .parquet); returns (rows, input report)."""
    target = Path(out)
    if target.suffix.lower() not in (".csv", ".parquet"):
        raise DataError(f"{target}: choose an output ending in .csv or .parquet")
    if on_bad_value is not None and on_bad_value not in ON_BAD_VALUE:
        raise ParameterError(f"on_bad_value must be 'missing' or 'error', got {on_bad_value!r}")
    if batch_rows < 1:
        raise ParameterError(f"--batch-rows must be at least 1, got {batch_rows}")
    file = open_batches(source, batch_rows, delimiter=delimiter, encoding=encoding, na_values=na_values)
    reader = ChunkReader(file, model.features, on_bad_value)
    names = file.schema.names
    if id_column is not None and id_column not in names:
        raise SchemaError(f"--id column {id_column!r} is not in {source}; its columns are {names}")
    copy_only = id_column is not None and id_column not in reader.kinds
    # Columns the model knew and chose not to use (the target, the columns training left out) are not
    # "unexpected": only columns it never saw are counted as such.
    known = {model.target.name, *model.info.get("ignored_columns", {})} - set(model.features.source_columns)
    unused = [n for n in names if n in known or (copy_only and n == id_column)]
    model.features.check_columns([n for n in names if n not in unused], TransformReport(), 0)
    report = TransformReport()
    rows = 0
    writer: Any = None
    labels = np.array(model.classes, dtype=object)
    label_type = pa.array(list(model.classes)).type
    with atomic_path(target) as tmp:
        try:
            for raw in file.batches:
                chunk = reader.read(raw, rows, report)
                P = model.predict_proba(chunk.drop_columns([n for n in unused if n in chunk.column_names]), report)
                columns: dict[str, Any] = {} if id_column is None else {id_column: raw.column(id_column)}
                if isinstance(model, Model):
                    p = P[:, 1]
                    columns["probability"] = pa.array(p)
                    decided = labels[(p >= model.threshold).astype(int)]
                else:  # a probability per class; the most probable class, as MulticlassModel.predict
                    columns.update((name, pa.array(P[:, k])) for k, name in enumerate(probability_columns(model)))
                    decided = labels[P.argmax(axis=1)]
                columns["prediction"] = pa.array(decided.tolist(), label_type)
                scores = pa.table(columns)
                if writer is None:
                    writer = _writer(tmp, target, scores.schema)
                writer.write_table(scores)
                rows += raw.num_rows
            if on_bad_value is None:
                reader.refuse_unreadable_columns()
            if writer is None:  # a header and no rows: the output has the columns and no rows
                fields = [] if id_column is None else [file.schema.field(id_column)]
                scored = ["probability"] if isinstance(model, Model) else probability_columns(model)
                empty = pa.schema([*fields, *((name, pa.float64()) for name in scored), ("prediction", label_type)])
                writer = _writer(tmp, target, empty)
                writer.write_table(empty.empty_table())
        finally:
            if writer is not None:
                writer.close()
    return rows, report


def probability_columns(model: ScoringModel) -> list[str]:
    """The output's probability columns of a model that gives one per class: ``probability_CLASS``."""
    return [f"probability_{label}" for label in model.classes]


def source_kinds(features: FittedFeatures) -> dict[str, str]:
    """Each source column the model reads, as what it must hold: number, boolean, datetime or text."""
    kinds: dict[str, str] = {}
    for column in features.columns:
        if column.kind == "numeric":
            kinds[column.sources[0]] = "number"
        elif isinstance(column, FittedInteraction) and column.numeric is not None:
            kinds.update(dict.fromkeys(column.sources, "number"))
        elif column.kind in ("boolean", "datetime"):
            kinds.setdefault(column.sources[0], column.kind)
    for name in features.source_columns:
        kinds.setdefault(name, "text")
    return kinds


def _writer(tmp: Path, target: Path, schema: pa.Schema) -> Any:
    if target.suffix.lower() == ".parquet":
        return pq.ParquetWriter(tmp, schema)
    return pacsv.CSVWriter(tmp, schema)


@dataclass
class ChunkReader:
    """Turns each chunk's source columns into what the model's features read, under a bad-value policy."""

    file: BatchFile
    features: FittedFeatures
    on_bad_value: str | None

    def __post_init__(self) -> None:
        self.kinds = source_kinds(self.features)
        self.checked = {c.sources[0]: c for c in self.features.columns if c.kind in ("boolean", "datetime")}
        self.readable: dict[str, int] = {}  # per column checked here: values read (not missing, not bad)
        self.bad: dict[str, tuple[int, Any]] = {}  # and those that could not be: count, the first

    def refuse_unreadable_columns(self) -> None:
        """Raise if a column's values, not missing, could none of them be read."""
        for name, (count, example) in self.bad.items():
            if not self.readable.get(name):
                kind = self.kinds[name]
                raise SchemaError(
                    f"{self.file.path}: not one value of column {name!r} could be read as {_EXPECTED[kind]} "
                    f"({count} value(s), such as {example!r}): the column is not what the model was trained on; "
                    "fix the file, or give --on-bad-value missing to score every row with it imputed"
                )

    def read(self, chunk: pa.Table, first_row: int, report: TransformReport) -> pa.Table:
        decimal_comma = self.file.dialect is not None and self.file.dialect.decimal_comma
        first_bad: tuple[int, str, Any, str] | None = None  # (row in the chunk, column, value, kind)
        for name, kind in self.kinds.items():
            i = chunk.schema.get_field_index(name)
            column = chunk.column(i)
            if pa.types.is_large_string(column.type):
                column = column.cast(pa.string())  # text as pandas writes it to Parquet
            if not pa.types.is_string(column.type):
                continue  # typed by the file (Parquet, Arrow): the encoders read it as they always do
            if kind == "number":
                values, bad = parse_numbers(column.combine_chunks(), decimal_comma=decimal_comma)
            else:
                inferred = self.file.inferred.field(name).type if name in self.file.inferred.names else None
                values = as_inferred_type(column, inferred)
                if kind == "text" or (kind == "datetime" and not pa.types.is_string(values.type)):
                    bad = np.zeros(len(values), dtype=bool)  # categories; or timestamps, all of them read
                else:
                    bad = _refused(self.checked[name], values)
            if bad.any():
                where = int(np.flatnonzero(bad)[0])
                if first_bad is None or where < first_bad[0]:
                    first_bad = (where, name, column[where].as_py(), kind)
                n_bad = int(bad.sum())
                report.add(BAD_VALUE, name, n_bad)
                count, example = self.bad.get(name, (0, column[where].as_py()))
                self.bad[name] = (count + n_bad, example)
                values = pc.if_else(pa.array(bad), pa.scalar(None, values.type), values)
            self.readable[name] = self.readable.get(name, 0) + len(values) - values.null_count
            chunk = chunk.set_column(i, name, values)
        if first_bad is not None and self.on_bad_value == "error":
            where, name, value, kind = first_bad
            raise SchemaError(
                f"{self.file.path}: column {name!r}, data row {first_row + where + 1}: {value!r} is not "
                f"{_EXPECTED[kind]}; fix the value, or give --on-bad-value missing to score it as missing"
            )
        return chunk


def as_inferred_type(column: pa.ChunkedArray, inferred: pa.DataType | None) -> pa.ChunkedArray:
    """Text given back the type an ordinary read infers, so its categories are spelled the same (``1.0``
    read as a number is the category ``1``); a block that does not fit that type stays text."""
    if inferred is None or pa.types.is_string(inferred) or pa.types.is_null(inferred):
        return column
    for candidate in (column, pc.utf8_trim_whitespace(column)):  # Arrow's reader trims around numbers
        try:
            return pc.cast(candidate, inferred)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return column


def _refused(fitted: FittedColumn, values: pa.Array | pa.ChunkedArray) -> NDArray[np.bool_]:
    """Mask of the values the fitted boolean or datetime column refuses, each distinct value tried once."""
    if fitted.kind == "datetime":
        try:
            pc.cast(values, pa.timestamp("us"))
            return np.zeros(len(values), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    levels = as_category(pa.chunked_array([values]) if isinstance(values, pa.Array) else values)
    refused = []
    for level in pc.unique(levels).drop_null().to_pylist():
        try:
            fitted.encode_row({fitted.sources[0]: level}, TransformReport())
        except SchemaError:
            refused.append(level)
    if not refused:
        return np.zeros(len(values), dtype=bool)
    mask = pc.fill_null(pc.is_in(levels, pa.array(refused, pa.string())), False)
    return np.asarray(mask.to_numpy(), dtype=bool)
