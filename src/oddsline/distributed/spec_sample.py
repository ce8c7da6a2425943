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

from ..batch import as_inferred_type
from ..sources import FileSource, FrameSource
from .job import file_key, position_hashes

__all__ = ["SampleRows", "concat_rows", "sample_partition"]


class SampleRows:
    """The rows with the smallest hashes seen so far (at most ``size``)."""

    def __init__(self, size: int, table: pa.Table | None = None, hashes: NDArray[np.uint64] | None = None) -> None:
        self.size = size
        self.table = table
        self.hashes = np.empty(0, np.uint64) if hashes is None else hashes

    def merge(self, other: SampleRows) -> SampleRows:
        tables = [t for t in (self.table, other.table) if t is not None and t.num_rows]
        if not tables:
            return self if self.table is not None else other
        hashes = np.concatenate(
            [h for t, h in ((self.table, self.hashes), (other.table, other.hashes)) if t is not None and t.num_rows]
        )
        joined = tables[0] if len(tables) == 1 else concat_rows(tables)
        order = np.argsort(hashes, kind="stable")[: self.size]
        return SampleRows(self.size, joined.take(pa.array(order)), hashes[order])


def sample_partition(partition: Any, source: FileSource | FrameSource, seed: int, size: int) -> SampleRows:
    """One partition's smallest-hash rows, all columns, typed as an ordinary read (a worker task)."""
    out = SampleRows(size)
    key = file_key(partition.path, seed)
    row = partition.first_row
    for batch, _dialect, inferred in source.batches(partition):
        for i, name in enumerate(batch.column_names):
            if pa.types.is_string(batch.schema.field(i).type) and name in inferred.names:
                batch = batch.set_column(i, name, as_inferred_type(batch.column(i), inferred.field(name).type))
        out = out.merge(SampleRows(size, batch, position_hashes(key, row, batch.num_rows)))
        row += batch.num_rows
    return out


def concat_rows(tables: list[pa.Table]) -> pa.Table:
    """Rows of tables whose files typed a column differently, as one table. Integers in one and decimals
    in another promote to a common type; a column with no value at all in a file (a CSV reader's text or
    null column) takes the others' type; where no common type exists (numbers in one, text in another)
    the column becomes text."""
    tables = [_without_empty_text(t) for t in tables]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        names = tables[0].column_names
        clash = {n for n in names if len({t.schema.field(n).type for t in tables if n in t.column_names}) > 1}
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
