"""Reading and writing tables through Arrow.

Every table that enters oddsline becomes a ``pyarrow.Table`` here, whatever it was: a CSV or Parquet
path, a pandas or polars frame, an Arrow table, a list of dict rows, a dict of columns, or a 2-d numpy
array. Writing goes to a temporary file in the destination folder and is renamed into place, so a
failed write never leaves a half-written file.

CSV files are read with the delimiter and encoding sniffed from their first 64 KiB (``csv_dialect``)
unless given, decimal-comma columns become numbers (``csv_numbers``), and these markers are missing
values, Arrow's defaults: the empty field, ``NA``, ``N/A``, ``n/a``, ``NULL``, ``null``, ``NaN``,
``nan``, ``-NaN``, ``-nan``, ``#N/A``, ``#N/A N/A``, ``#NA``, ``1.#IND``, ``-1.#IND``, ``1.#QNAN``,
``-1.#QNAN``; ``na_values`` adds to them (``?``, ``-``, ...).

A Parquet file written by pandas keeps a non-default index as ``__index_level_N__`` columns: those are
row positions, not data, and are dropped. A pandas frame's *named* index is data (``customer_id``) and
becomes an ordinary column, in a Parquet file as in a frame given to ``to_arrow``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ._exceptions import DataError, ReadError
from .csv_dialect import CsvDialect, sniff_dialect
from .csv_numbers import check_placeholders, convert_decimal_commas, convert_formatted_numbers, thousands_dots

__all__ = [
    "NULL_VALUES",
    "TableLike",
    "atomic_path",
    "check_unique_names",
    "concat_rows",
    "csv_null_values",
    "csv_read_options",
    "drop_pandas_positions",
    "file_sha256",
    "first_line",
    "pandas_index_columns",
    "private_file",
    "private_folder",
    "read_file",
    "read_table",
    "to_arrow",
    "write_table",
]

TableLike = Any  # str | Path | pa.Table | pandas/polars DataFrame | list[dict] | dict[str, list] | np.ndarray

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
ARROW_SUFFIXES = (".arrow", ".feather", ".ipc")
NULL_VALUES: tuple[str, ...] = tuple(pacsv.ConvertOptions().null_values)
_PANDAS_POSITIONS = re.compile(r"__index_level_\d+__")


def read_table(
    path: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    na_values: Iterable[str] | None = None,
) -> pa.Table:
    """Read a CSV, Parquet or Arrow IPC file into an Arrow table, with an error that names the file.

    ``delimiter``, ``encoding`` and ``na_values`` concern CSV files: the first two are sniffed when not
    given; ``na_values`` are markers of a missing value besides Arrow's (see the module docstring).
    """
    table = read_file(path, delimiter=delimiter, encoding=encoding, na_values=na_values)
    if table.num_rows == 0:
        raise ReadError(f"{path} has a header but no data rows; give a file with data")
    return table


def read_file(
    path: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    na_values: Iterable[str] | None = None,
) -> pa.Table:
    """``read_table`` that also accepts a file with a header and no rows."""
    p = Path(path)
    many = "oddsline train and oddsline predict read folders and patterns; this reads one file"
    if not p.exists() and glob.has_magic(str(p)):
        raise ReadError(f"{p} is a pattern: {many}, name one of its files")
    if not p.exists():
        raise ReadError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise ReadError(f"{p} is a folder; give a CSV, Parquet or Arrow file ({many})")
    if p.stat().st_size == 0:
        raise ReadError(f"{p} is empty; give a file with a header row and data rows")
    suffix = p.suffix.lower()
    try:
        if suffix in PARQUET_SUFFIXES:
            table = drop_pandas_positions(pq.read_table(p))
        elif suffix in ARROW_SUFFIXES:
            with pa.memory_map(str(p)) as source:
                table = drop_pandas_positions(pa.ipc.open_file(source).read_all())
        elif suffix in CSV_SUFFIXES:
            table = _read_csv(p, sniff_dialect(p, delimiter=delimiter, encoding=encoding), na_values)
        else:
            raise ReadError(f"{p}: unknown file type {suffix!r}; use .csv, .tsv, .parquet or .arrow")
    except ReadError:
        raise
    except (pa.ArrowException, OSError) as exc:
        kind = suffix.lstrip(".").upper() or "a table"
        raise ReadError(f"{p} could not be read as {kind}: {first_line(exc)}") from None
    check_unique_names(table.column_names, str(p))
    return table


def csv_read_options(dialect: CsvDialect, block_size: int | None = None) -> pacsv.ReadOptions:
    encoding = "utf8" if dialect.encoding == "utf-8" else dialect.encoding  # Arrow reads UTF-8 as is
    if block_size is None:
        return pacsv.ReadOptions(encoding=encoding)
    return pacsv.ReadOptions(encoding=encoding, block_size=block_size)


def csv_null_values(na_values: Iterable[str] | None) -> list[str]:
    return [*NULL_VALUES, *(v for v in (na_values or ()) if v not in NULL_VALUES)]


def _read_csv(p: Path, dialect: CsvDialect, na_values: Iterable[str] | None) -> pa.Table:
    parse = pacsv.ParseOptions(delimiter=dialect.delimiter)
    # An empty CSV field is a missing value, for text columns as for numbers.
    convert = pacsv.ConvertOptions(null_values=csv_null_values(na_values), strings_can_be_null=True)
    try:
        table = pacsv.read_csv(p, read_options=csv_read_options(dialect), parse_options=parse, convert_options=convert)
    except UnicodeDecodeError as exc:
        raise ReadError(
            f"{p} is not {dialect.encoding} text past its first 64 KiB ({exc.reason}); give its "
            "encoding with --encoding"
        ) from None
    except (pa.ArrowException, OSError) as exc:
        raise ReadError(
            f"{p} could not be read as CSV: {first_line(exc)} (read with {dialect.describe()}; "
            "give --delimiter or --encoding if that is wrong)"
        ) from None
    check_unique_names(table.column_names, str(p))  # before any column is looked up by its name
    for name, column_type in zip(table.column_names, table.schema.types, strict=True):
        if pa.types.is_binary(column_type):  # Arrow keeps text that is not valid UTF-8 as bytes
            raise ReadError(
                f"{p}: column {name!r} holds text that is not {dialect.encoding}; give the file's encoding "
                "with --encoding, e.g. --encoding cp1252"
            )
    _refuse_repeated_header(table, str(p))
    if dialect.decimal_comma:
        table = _regroup_thousands(convert_decimal_commas(table), p, csv_read_options(dialect), parse, convert)
    else:
        table = convert_formatted_numbers(table)
    check_placeholders(table, str(p), decimal_comma=dialect.decimal_comma)
    return table


def _regroup_thousands(
    table: pa.Table, p: Path, read: pacsv.ReadOptions, parse: pacsv.ParseOptions, convert: pacsv.ConvertOptions
) -> pa.Table:
    """In a decimal-comma file, the columns Arrow read as decimals that are whole numbers with thousands
    dots (``1.507`` is 1507 there): read again as text for ``thousands_dots`` to decide."""
    decimals = [n for n, t in zip(table.column_names, table.schema.types, strict=True) if pa.types.is_floating(t)]
    if not decimals:
        return table
    as_text = pacsv.ConvertOptions(
        null_values=convert.null_values,
        strings_can_be_null=True,
        include_columns=decimals,
        column_types={name: pa.string() for name in decimals},
    )
    text = pacsv.read_csv(p, read_options=read, parse_options=parse, convert_options=as_text)
    for name in decimals:
        grouped = thousands_dots(text.column(name))
        if grouped is not None:
            table = table.set_column(table.column_names.index(name), name, grouped)
    return table


def _refuse_repeated_header(table: pa.Table, source: str) -> None:
    """A data row that repeats the header (CSV files concatenated with their headers) turns every numeric
    column into text and the target's name into a class: refused, naming the row."""
    if not table.num_rows or not table.num_columns:
        return
    names = table.column_names
    first = pc.equal(pc.cast(table.column(0), pa.string()), names[0])
    for at in np.flatnonzero(np.asarray(pc.fill_null(first, False).to_numpy(zero_copy_only=False))):
        row = [table.column(j)[int(at)].as_py() for j in range(table.num_columns)]
        if [None if v is None else str(v) for v in row] == names:
            raise DataError(
                f"{source}: data row {int(at) + 1} repeats the header (files joined with their headers?); "
                "remove that line"
            )


def check_unique_names(names: Sequence[str], source: str) -> None:
    """Refuse a table whose header names a column twice: which one would a feature read?"""
    repeated = [name for name, n in Counter(names).items() if n > 1]
    if repeated:
        listed = ", ".join(f"{name!r} ({names.count(name)} times)" for name in repeated)
        raise DataError(f"{source}: the header names column(s) {listed}; rename them so each name is used once")


def pandas_index_columns(schema: pa.Schema) -> list[str]:
    """The columns pandas wrote for a positional (unnamed) index: ``__index_level_N__``."""
    metadata = schema.pandas_metadata or {}
    return [
        name
        for name in metadata.get("index_columns", [])
        if isinstance(name, str) and _PANDAS_POSITIONS.fullmatch(name) and name in schema.names
    ]


def drop_pandas_positions(table: pa.Table) -> pa.Table:
    positions = pandas_index_columns(table.schema)
    if not positions:
        return table
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != b"pandas"}
    return table.drop_columns(positions).replace_schema_metadata(metadata or None)


def to_arrow(data: TableLike) -> pa.Table:
    """Turn any supported table-like input into a ``pyarrow.Table``."""
    table = _to_arrow(data)
    check_unique_names(table.column_names, "the table")
    return table


def _to_arrow(data: TableLike) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, (str, os.PathLike)):
        return read_table(data)
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return _from_pandas(data)
    if module == "polars":
        return data.to_arrow()
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise DataError(f"a numpy table must be 2-dimensional, got shape {data.shape}")
        return pa.table({f"x{j}": data[:, j] for j in range(data.shape[1])})
    if isinstance(data, Mapping):
        return pa.table(dict(data))
    if isinstance(data, Sequence) and all(isinstance(row, Mapping) for row in data):
        if not data:
            raise DataError("the list of rows is empty; give at least one row")
        try:
            return pa.Table.from_pylist(list(data))
        except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError):
            return _rows_column_by_column(list(data))
    raise DataError(
        f"cannot use {type(data).__name__} as a table; give a CSV/Parquet path, a pandas or polars "
        "DataFrame, a pyarrow Table, a list of dict rows or a 2-d numpy array"
    )


def _rows_column_by_column(rows: list[Mapping[str, Any]]) -> pa.Table:
    """Dict rows Arrow will not type in one go, as the server reads them: an integer past int64 becomes
    a float (then clipped or refused by the column's range check, as on every route), and a column that
    mixes numbers and text becomes text (a numeric feature parses it, naming the column if it cannot)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            columns[name] = pa.array(values)
        except OverflowError:
            columns[name] = pa.array(
                [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in values]
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(columns)


def _from_pandas(frame: Any) -> pa.Table:
    """A named index is data and becomes a column; a positional one is dropped."""
    if any(name is not None for name in frame.index.names):
        names = [name for name in frame.index.names if name is not None]
        clash = [name for name in names if name in frame.columns]
        if clash:
            raise DataError(
                f"the frame's index {clash[0]!r} has the name of one of its columns; rename one, or drop the "
                "index with frame.reset_index(drop=True)"
            )
        # Kept as pandas writes it to Parquet: a column, and named in the metadata as the index (so that
        # spec inference can tell a row identifier from a feature, as for a file).
        return drop_pandas_positions(pa.Table.from_pandas(frame, preserve_index=True))
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_table(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write CSV or Parquet (chosen by the extension) atomically."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in CSV_SUFFIXES + PARQUET_SUFFIXES:
        raise DataError(f"{p}: choose an output ending in .csv or .parquet")
    with atomic_path(p) as tmp:
        if suffix in PARQUET_SUFFIXES:
            pq.write_table(table, tmp)
        else:
            pacsv.write_csv(table, tmp)


def private_folder(path: str | os.PathLike[str]) -> Path:
    """``path`` as a folder, created readable by its owner only (0700) if it does not exist: the
    registry's store and the prediction and label logs hold signed artefacts and personal data.
    Missing parents are created as the umask says; an existing folder is left as it is."""
    folder = Path(path)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def private_file(path: str | os.PathLike[str], content: bytes = b"") -> bool:
    """Create ``path`` readable by its owner only (0600) with ``content``, unless it exists; True if
    created here. Exclusive creation: of two processes racing, one writes it and the other reads it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    return True


@contextmanager
def atomic_path(path: Path, *, private: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The file is created with mode 0666 less the umask, as ``open`` would create ``path`` itself: a
    model, scores or a report the user asked for is theirs to share as their umask says. ``private``
    creates it 0600 whatever the umask, for what must stay the owner's (registry store, logs).
    """
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"cannot write {path}: folder {folder} does not exist; create it first")
    tmp = _create_beside(path, folder, 0o600 if private else 0o666)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _create_beside(path: Path, folder: Path, mode: int) -> Path:
    """A new empty file (the kernel applies the umask to ``mode``), named so no other writer picks it."""
    while True:
        tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode))
        except FileExistsError:
            continue
        return tmp


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def concat_rows(tables: list[pa.Table]) -> pa.Table:
    """Rows of tables that typed a column differently (files of one source, the recent rows of several
    server workers), as one table. Integers in one and decimals in another promote to a common type; a
    column with no value at all in one (a CSV reader's text or null column) takes the others' type; where
    no common type exists (numbers in one, text in another) the column becomes text. A column missing
    from some tables is null in their rows."""
    tables = [_without_empty_text(t) for t in tables]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        names = list(dict.fromkeys(n for t in tables for n in t.column_names))
        types = {n: {t.schema.field(n).type for t in tables if n in t.column_names} - {pa.null()} for n in names}
        clash = {n for n, kinds in types.items() if len(kinds) > 1}
        texted = [
            t.cast(pa.schema([(f.name, pa.string() if f.name in clash else f.type) for f in t.schema])) for t in tables
        ]
        return pa.concat_tables(texted, promote_options="permissive")


def _without_empty_text(table: pa.Table) -> pa.Table:
    for i, field in enumerate(table.schema):
        column = table.column(i)
        if pa.types.is_string(field.type) and table.num_rows and column.null_count == table.num_rows:
            table = table.set_column(i, field.name, pa.nulls(table.num_rows))
    return table
