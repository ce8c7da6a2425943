"""A Dask DataFrame as a source: its partitions are the units of work, computed where the task runs.

On the Dask engine each task receives its partition as Dask computes it on the worker (nothing is
persisted, so a pass reads the partitions afresh and memory stays bounded); on the local engine a
thread computes one partition at a time. Rows are identified for the held-out split by (partition
number, row number), so the split depends on the DataFrame's partitioning, which the user controls.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .._exceptions import ReadError
from ..csv_dialect import CsvDialect
from ..io import to_arrow

__all__ = ["FramePartition", "FrameSource", "is_dask_frame"]


def is_dask_frame(data: Any) -> bool:
    module = type(data).__module__
    return module.startswith("dask.") and hasattr(data, "to_delayed") and hasattr(data, "npartitions")


@dataclass(frozen=True)
class FramePartition:
    """One partition of a Dask DataFrame: ``data`` is its delayed value until a task computes it."""

    index: int
    data: Any  # a dask Delayed (or a tuple of them: an array's row block), computed inside a task
    first_row: int = 0

    @property
    def path(self) -> str:
        return f"dask-partition-{self.index}"

    def computed(self) -> FramePartition:
        """The partition with its data computed here (on the local engine; Dask computes it before)."""
        data = self.data
        if isinstance(data, tuple) and any(hasattr(part, "dask") for part in data):
            from dask.base import compute

            return FramePartition(self.index, compute(*data, scheduler="sync"), self.first_row)  # type: ignore[no-untyped-call]
        if hasattr(data, "dask") and hasattr(data, "compute"):
            return FramePartition(self.index, data.compute(scheduler="sync"), self.first_row)
        return self


@dataclass(frozen=True)
class FrameSource:
    frame: Any
    batch_rows: int = 65_536

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f"dask-partition-{i}" for i in range(self.frame.npartitions))

    def shippable(self) -> FrameSource:
        """This source without the DataFrame's graph, for the job every task receives: a task reads only
        the partition it is given."""
        return FrameSource(_Shipped(self.frame.npartitions), self.batch_rows)

    def partitions(self) -> list[FramePartition]:
        return [FramePartition(i, part) for i, part in enumerate(self.frame.to_delayed())]

    def batches(
        self, partition: Any, columns: Sequence[str] | None = None
    ) -> Iterator[tuple[pa.Table, CsvDialect | None, pa.Schema]]:
        frame = partition.computed().data
        missing = [c for c in columns or () if c not in frame.columns]
        if missing:
            raise ReadError(f"the Dask DataFrame lacks column(s) {missing}; its columns are {list(frame.columns)}")
        table = to_arrow(frame if columns is None else frame[list(columns)])
        for start in range(0, max(table.num_rows, 1), self.batch_rows):
            batch = table.slice(start, self.batch_rows)
            yield batch, None, batch.schema


@dataclass(frozen=True)
class _Shipped:
    npartitions: int
