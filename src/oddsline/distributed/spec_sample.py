"""The rows a streamed fit infers its spec from: a uniform sample of the whole source, not its head.

One read pass keeps, per partition, the rows with the smallest position hashes (the same hash as the
held-out split), each column given the type an ordinary read of its file infers; merged, they are a
uniform sample of every file. A file sorted by date or by class would mislead a spec read off its first
rows (a 0/1 column whose 2s come later, a level first seen in the last file).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from .._exceptions import ReadError
from ..batch import as_inferred_type
from ..csv_numbers import formatted_numbers
from ..io import concat_rows
from ..sources import FileSource, FrameSource
from .job import file_key, position_hashes

__all__ = ["SampleRows", "sample_partition"]


class SampleRows:
    """The rows with the smallest hashes seen so far (at most ``size``), and the columns of the first
    file they were read from (``header``: its path and column names)."""

    def __init__(
        self,
        size: int,
        table: pa.Table | None = None,
        hashes: NDArray[np.uint64] | None = None,
        header: tuple[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.size = size
        self.table = table
        self.hashes = np.empty(0, np.uint64) if hashes is None else hashes
        self.header = header

    def merge(self, other: SampleRows) -> SampleRows:
        header = self.header or other.header
        if self.header and other.header:
            _same_columns(self.header, other.header)
        tables = [t for t in (self.table, other.table) if t is not None and t.num_rows]
        if not tables:
            kept = self if self.table is not None else other
            return SampleRows(kept.size, kept.table, kept.hashes, header)
        hashes = np.concatenate(
            [h for t, h in ((self.table, self.hashes), (other.table, other.hashes)) if t is not None and t.num_rows]
        )
        joined = tables[0] if len(tables) == 1 else concat_rows(tables)
        order = np.argsort(hashes, kind="stable")[: self.size]
        return SampleRows(self.size, joined.take(pa.array(order)), hashes[order], header)


def _same_columns(first: tuple[str, tuple[str, ...]], later: tuple[str, tuple[str, ...]]) -> None:
    """Every file of a source has the first file's columns (in any order); the message names the file
    that differs and how, rather than the first file for lacking a column only the later one has."""
    (where, names), (other_where, other_names) = first, later
    extra = [n for n in other_names if n not in set(names)]
    lacks = [n for n in names if n not in set(other_names)]
    if extra or lacks:
        how = " and ".join(
            part
            for part in (f"lacks {lacks}" if lacks else "", f"has {extra}, which {where} has not" if extra else "")
            if part
        )
        raise ReadError(
            f"{other_where} has other columns than {where}: it {how}. Every file of a source needs the same "
            "columns: rename or drop them, or train on the files that agree"
        )


def sample_partition(partition: Any, source: FileSource | FrameSource, seed: int, size: int) -> SampleRows:
    """One partition's smallest-hash rows, all columns, typed as an ordinary read (a worker task)."""
    out = SampleRows(size)
    key = file_key(partition.path, seed)
    row = partition.first_row
    for batch, dialect, inferred in source.batches(partition):
        if out.header is None:
            out.header = (partition.path, tuple(batch.column_names))
        for i, name in enumerate(batch.column_names):
            if pa.types.is_string(batch.schema.field(i).type) and name in inferred.names:
                batch = batch.set_column(i, name, as_inferred_type(batch.column(i), inferred.field(name).type))
            if pa.types.is_string(batch.schema.field(i).type) and not (dialect is not None and dialect.decimal_comma):
                numbers = formatted_numbers(batch.column(i))  # $1,234.50 as read_table reads it
                if numbers is not None:
                    batch = batch.set_column(i, name, numbers)
        out = out.merge(SampleRows(size, batch, position_hashes(key, row, batch.num_rows), out.header))
        row += batch.num_rows
    return out
