"""A source of files: which files, cut into which partitions, and each partition's record batches."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .._exceptions import ReadError
from ..batch_reader import open_batches
from ..csv_dialect import CsvDialect
from ..io import ARROW_SUFFIXES, CSV_SUFFIXES, PARQUET_SUFFIXES, check_unique_names, first_line, pandas_index_columns

__all__ = ["BATCH_ROWS", "FileSource", "Partition", "open_source"]

BATCH_ROWS = 65_536
_FOLDER_SUFFIXES = tuple(s for s in CSV_SUFFIXES + PARQUET_SUFFIXES + ARROW_SUFFIXES if s != ".txt")


@dataclass(frozen=True)
class Partition:
    """One unit of work: a whole file, or some row groups of a Parquet file. Picklable (Dask ships it)."""

    index: int  # its place in the source: results are merged in this order
    path: str
    row_groups: tuple[int, ...] | None = None  # Parquet only; None: the whole file
    first_row: int = 0  # the partition's first row's number within its file
    rows: int | None = None  # from the Parquet footer; None where only a read can tell (CSV)


@dataclass(frozen=True)
class FileSource:
    """Files of one table; ``partitions`` cut them for parallel passes."""

    paths: tuple[str, ...]
    batch_rows: int = BATCH_ROWS
    delimiter: str | None = None
    encoding: str | None = None
    na_values: tuple[str, ...] | None = None

    def partitions(self, row_groups_per_partition: int = 1) -> list[Partition]:
        parts: list[Partition] = []
        for path in self.paths:
            if Path(path).suffix.lower() in PARQUET_SUFFIXES:
                metadata = _parquet_file(path).metadata
                groups = metadata.num_row_groups
                first = 0
                for start in range(0, groups, row_groups_per_partition):
                    chosen = tuple(range(start, min(start + row_groups_per_partition, groups)))
                    rows = sum(metadata.row_group(g).num_rows for g in chosen)
                    parts.append(Partition(len(parts), path, chosen, first, rows))
                    first += rows
                if groups == 0:
                    parts.append(Partition(len(parts), path, (), 0, 0))
            else:
                parts.append(Partition(len(parts), path))
        return parts

    def schema(self) -> pa.Schema:
        """The first file's columns, typed as an ordinary read of it would type them."""
        return self.open(self.paths[0]).inferred

    def open(self, path: str):  # type: ignore[no-untyped-def]
        return open_batches(
            path, self.batch_rows, delimiter=self.delimiter, encoding=self.encoding, na_values=self.na_values
        )

    def batches(
        self, partition: Partition, columns: Sequence[str] | None = None
    ) -> Iterator[tuple[pa.Table, CsvDialect | None, pa.Schema]]:
        """(batch, the file's CSV dialect or None, the types an ordinary read of the file infers)."""
        if partition.row_groups is not None:
            yield from _parquet_batches(partition, self.batch_rows, columns)
            return
        file = self.open(partition.path)
        missing = [c for c in columns or () if c not in file.schema.names]
        if missing:
            raise ReadError(
                f"{partition.path} lacks column(s) {missing}: every file of a source needs the same columns"
            )
        for batch in file.batches:
            yield (batch if columns is None else batch.select(list(columns))), file.dialect, file.inferred


def open_source(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    batch_rows: int = BATCH_ROWS,
    delimiter: str | None = None,
    encoding: str | None = None,
    na_values: Sequence[str] | None = None,
) -> FileSource:
    """A folder (its table files, sorted by name), a glob pattern, one file, or a list of any of these."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not items:
        raise ReadError("no source given: name a file, a folder or a glob of CSV/Parquet/Arrow files")
    paths: list[str] = []
    for item in items:
        text = os.fspath(item)
        p = Path(text)
        if p.is_dir():
            paths.extend(folder_files(p))
        elif p.is_file():
            paths.append(text)
        elif glob.has_magic(text):
            paths.extend(glob_files(text))
        else:
            raise ReadError(f"{p}: no such file or folder")
    _refuse_repeats(paths)
    if batch_rows < 1:
        raise ReadError(f"batch_rows must be at least 1, got {batch_rows}")
    return FileSource(tuple(paths), batch_rows, delimiter, encoding, None if na_values is None else tuple(na_values))


def folder_files(folder: Path) -> list[str]:
    """A folder's table files, sorted, subfolders included. Names that begin with "." or "_" are not
    data (Spark's ``_SUCCESS`` and ``.crc`` files, ``_temporary/``, ``.ipynb_checkpoints/`` with copies
    of the CSVs beside it), and ``.txt`` files are too often a README: named alone or by a glob they
    are read, found in a folder they are not."""
    found, notes = [], []
    for f in folder.rglob("*"):
        if any(part.startswith((".", "_")) for part in f.relative_to(folder).parts) or not f.is_file():
            continue
        suffix = f.suffix.lower()
        if suffix in _FOLDER_SUFFIXES:
            found.append(str(f))
        elif suffix == ".txt":
            notes.append(str(f))
    if not found:
        hint = f"; to read its .txt files name them with a glob: '{folder / '*.txt'}'" if notes else ""
        raise ReadError(f"{folder} holds no CSV, Parquet or Arrow files (suffixes {', '.join(_FOLDER_SUFFIXES)}){hint}")
    return sorted(found)


def glob_files(pattern: str) -> list[str]:
    """The files a glob pattern matches, sorted, without the markers a folder skips too (``_SUCCESS``,
    ``.crc`` checksums, anything under ``_temporary/``: ``out/*`` over a Spark export) unless the
    pattern names them itself (its part there begins with "_" or ".", or it ends with ".crc")."""
    wanted = Path(pattern).parts
    literal = next((at for at, part in enumerate(wanted) if glob.has_magic(part)), len(wanted))
    aligned = "**" not in wanted  # the matches' parts are the pattern's, one for one

    def marker(path: str) -> bool:
        parts = Path(path).parts
        if parts[-1].endswith(".crc") and not wanted[-1].endswith(".crc"):
            return True  # Hadoop's checksum of a part file: part-00000.parquet.crc
        for at in range(literal, len(parts)):
            own = wanted[at] if aligned else (wanted[-1] if at == len(parts) - 1 else "")
            if parts[at].startswith(("_", ".")) and not own.startswith(("_", ".")):
                return True
        return False

    found: list[str] = []
    skipped: list[str] = []
    for f in sorted(glob.glob(pattern, recursive=True)):
        if Path(f).is_file():
            (skipped if marker(f) else found).append(f)
    if not found:
        also = f" other than markers such as {Path(skipped[0]).name!r}" if skipped else ""
        raise ReadError(f"the pattern {pattern!r} matches no files{also}")
    return found


def _refuse_repeats(paths: list[str]) -> None:
    """A file named twice (a folder and a file in it, overlapping globs, a link) would train every row twice."""
    seen: dict[str, str] = {}
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            raise ReadError(
                f"{path} is in the source twice (also as {seen[real]}): its rows would count twice; name each file once"
            )
        seen[real] = path


def _parquet_file(path: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ReadError(f"{path} could not be read as PARQUET: {first_line(exc)}") from None


def _parquet_batches(
    partition: Partition, batch_rows: int, columns: Sequence[str] | None
) -> Iterator[tuple[pa.Table, CsvDialect | None, pa.Schema]]:
    file = _parquet_file(partition.path)
    positions = pandas_index_columns(file.schema_arrow)
    names = [n for n in file.schema_arrow.names if n not in positions]
    check_unique_names(names, partition.path)
    wanted = names if columns is None else list(columns)
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ReadError(f"{partition.path} lacks column(s) {missing}: every file of a source needs the same columns")
    schema = pa.schema([file.schema_arrow.field(n) for n in wanted])
    if not partition.row_groups:
        return
    try:
        for batch in file.iter_batches(batch_size=batch_rows, row_groups=list(partition.row_groups), columns=wanted):
            yield pa.Table.from_batches([batch], schema), None, schema
    except (pa.ArrowException, OSError) as exc:
        raise ReadError(f"{partition.path} could not be read as PARQUET: {first_line(exc)}") from None
