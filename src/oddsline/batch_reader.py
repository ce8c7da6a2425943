"""A table file read in batches of rows, with memory bounded by one batch whatever the file's size.

CSV files are streamed with every column read as text. Arrow's streaming reader otherwise infers each
column's type from its first block (16 MiB) and fails outright when a later block disagrees (an
integer column with ``abc`` in row 190,000, a decimal in a column of integers). As text, every block
reads; the scorer then turns each column into what the model's features expect and counts or refuses
the values that do not fit (``batch.py``). The types Arrow would have inferred from the first block
are kept in ``inferred`` so text columns can be given them back, exactly as an ordinary read would.

Parquet and Arrow files carry their types; pandas' positional index columns are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ._exceptions import ReadError
from .csv_dialect import CsvDialect, sniff_dialect
from .io import (
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    check_unique_names,
    csv_null_values,
    csv_read_options,
    first_line,
    pandas_index_columns,
    read_file,
)

__all__ = ["BLOCK_BYTES", "BatchFile", "open_batches"]

BLOCK_BYTES = 1 << 24


@dataclass
class BatchFile:
    path: Path
    schema: pa.Schema  # the columns as the batches hold them
    inferred: pa.Schema  # the types an ordinary read gives (for CSV: inferred from the first block)
    batches: Iterator[pa.Table]
    dialect: CsvDialect | None = None  # CSV only


def open_batches(
    path: str | os.PathLike[str],
    batch_rows: int = 65_536,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    na_values: Iterable[str] | None = None,
) -> BatchFile:
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.is_file() or p.stat().st_size == 0 or suffix not in CSV_SUFFIXES + PARQUET_SUFFIXES:
        table = read_file(p, delimiter=delimiter, encoding=encoding, na_values=na_values)  # its error or an IPC file
        return BatchFile(p, table.schema, table.schema, _slices(table.to_batches(), batch_rows))
    if suffix in PARQUET_SUFFIXES:
        try:
            return _parquet(p, batch_rows)
        except (pa.ArrowException, OSError) as exc:
            raise _read_error(p, exc, None) from None
    dialect = sniff_dialect(p, delimiter=delimiter, encoding=encoding)
    try:
        return _csv(p, dialect, na_values, batch_rows)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise _read_error(p, exc, dialect) from None


def _parquet(p: Path, batch_rows: int) -> BatchFile:
    source = pq.ParquetFile(p)
    positions = pandas_index_columns(source.schema_arrow)
    columns = [name for name in source.schema_arrow.names if name not in positions]
    check_unique_names(columns, str(p))
    schema = pa.schema([source.schema_arrow.field(name) for name in columns])
    batches = (pa.Table.from_batches([b], schema) for b in source.iter_batches(batch_size=batch_rows, columns=columns))
    return BatchFile(p, schema, schema, _guard(p, batches))


def _csv(p: Path, dialect: CsvDialect, na_values: Iterable[str] | None, batch_rows: int) -> BatchFile:
    read = csv_read_options(dialect, BLOCK_BYTES)
    parse = pacsv.ParseOptions(delimiter=dialect.delimiter)
    nulls = csv_null_values(na_values)
    # The probe parses the first block once more: the price of knowing the types an ordinary read infers.
    inferred = pacsv.open_csv(
        p,
        read_options=read,
        parse_options=parse,
        convert_options=pacsv.ConvertOptions(null_values=nulls, strings_can_be_null=True),
    ).schema
    check_unique_names(inferred.names, str(p))
    as_text = {name: pa.string() for name in inferred.names}
    reader = pacsv.open_csv(
        p,
        read_options=read,
        parse_options=parse,
        convert_options=pacsv.ConvertOptions(null_values=nulls, strings_can_be_null=True, column_types=as_text),
    )
    schema = pa.schema([(name, pa.string()) for name in inferred.names])
    return BatchFile(p, schema, inferred, _guard(p, _slices(reader, batch_rows), dialect), dialect)


def _slices(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    for batch in batches:
        for start in range(0, batch.num_rows, rows):
            yield pa.Table.from_batches([batch.slice(start, rows)])


def _guard(p: Path, batches: Iterator[pa.Table], dialect: CsvDialect | None = None) -> Iterator[pa.Table]:
    """The batches, with a read error mid-file turned into one that names the file (and the flag)."""
    try:
        yield from batches
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise _read_error(p, exc, dialect) from None


def _read_error(p: Path, exc: Exception, dialect: CsvDialect | None) -> ReadError:
    if isinstance(exc, ReadError):
        return exc
    if dialect is None:
        return ReadError(f"{p} could not be read as PARQUET: {first_line(exc)}")
    if isinstance(exc, UnicodeDecodeError) or "invalid UTF8" in str(exc):
        return ReadError(
            f"{p} is not {dialect.encoding} text past its first 64 KiB; give its encoding with --encoding, "
            "e.g. --encoding cp1252"
        )
    return ReadError(
        f"{p} could not be read as CSV: {first_line(exc)} (read with {dialect.describe()}; give --delimiter or "
        "--encoding if that is wrong)"
    )
