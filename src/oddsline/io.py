"""Reading and writing tables through Arrow.

Every table that enters oddsline becomes a ``pyarrow.Table`` here, whatever it was: a CSV or Parquet
path, a pandas or polars frame, an Arrow table, a list of dict rows, a dict of columns, or a 2-d numpy
array. Writing goes to a temporary file in the destination folder and is renamed into place, so a
failed write never leaves a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ._exceptions import DataError, ReadError

__all__ = ["TableLike", "atomic_path", "file_sha256", "read_table", "to_arrow", "write_table"]

TableLike = Any  # str | Path | pa.Table | pandas/polars DataFrame | list[dict] | dict[str, list] | np.ndarray

_CSV = (".csv", ".tsv", ".txt")
_PARQUET = (".parquet", ".pq")
_ARROW = (".arrow", ".feather", ".ipc")


def read_table(path: str | os.PathLike[str]) -> pa.Table:
    """Read a CSV, Parquet or Arrow IPC file into an Arrow table, with an error that names the file."""
    p = Path(path)
    if not p.exists():
        raise ReadError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise ReadError(f"{p} is a folder; give a CSV, Parquet or Arrow file")
    if p.stat().st_size == 0:
        raise ReadError(f"{p} is empty; give a file with a header row and data rows")
    suffix = p.suffix.lower()
    try:
        if suffix in _PARQUET:
            table = pq.read_table(p)
        elif suffix in _ARROW:
            with pa.memory_map(str(p)) as source:
                table = pa.ipc.open_file(source).read_all()
        elif suffix in _CSV:
            parse = pacsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
            # An empty CSV field is a missing value, for text columns as for numbers.
            convert = pacsv.ConvertOptions(strings_can_be_null=True)
            table = pacsv.read_csv(p, parse_options=parse, convert_options=convert)
        else:
            raise ReadError(f"{p}: unknown file type {suffix!r}; use .csv, .tsv, .parquet or .arrow")
    except ReadError:
        raise
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        kind = suffix.lstrip(".").upper() or "a table"
        raise ReadError(f"{p} could not be read as {kind}: {_first_line(exc)}") from None
    if table.num_rows == 0:
        raise ReadError(f"{p} has a header but no data rows; give a file with data")
    return table


def to_arrow(data: TableLike) -> pa.Table:
    """Turn any supported table-like input into a ``pyarrow.Table``."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, (str, os.PathLike)):
        return read_table(data)
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False)
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
        return pa.Table.from_pylist(list(data))
    raise DataError(
        f"cannot use {type(data).__name__} as a table; give a CSV/Parquet path, a pandas or polars "
        "DataFrame, a pyarrow Table, a list of dict rows or a 2-d numpy array"
    )


def write_table(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write CSV or Parquet (chosen by the extension) atomically."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _CSV + _PARQUET:
        raise DataError(f"{p}: choose an output ending in .csv or .parquet")
    with atomic_path(p) as tmp:
        if suffix in _PARQUET:
            pq.write_table(table, tmp)
        else:
            pacsv.write_csv(table, tmp)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"cannot write {path}: folder {folder} does not exist; create it first")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
