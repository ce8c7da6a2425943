"""Drift of a source too large to hold: the current rows' counts in the reference's bins, batch by batch.

Every drift statistic (``monitor/drift.py``) is a function of bin counts, which add up across batches and
partitions, so the report of a streamed source is the report of the whole table. Values a column cannot
read (text in a numeric column) count as missing, as ``predict --on-bad-value missing`` scores them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..batch import ChunkReader
from ..batch_reader import BatchFile
from ..features import TransformReport
from ..monitor.drift import DriftCounts, drift_counts
from ..sources import FileSource, Partition
from .engines import Engine

__all__ = ["drift_counts_of_source"]


def drift_counts_of_source(model: Any, source: FileSource, engine: Engine) -> DriftCounts:
    counts: DriftCounts = engine.fold(drift_partition, source.partitions(), model, source, start=DriftCounts())
    return counts


def drift_partition(partition: Partition, model: Any, source: FileSource) -> DriftCounts:
    """One partition's counts (a worker task)."""
    wanted = [*model.features.source_columns, *model.info.get("reference", {}).get("columns", {})]
    out = DriftCounts()
    row = 0
    for batch, dialect, inferred in source.batches(partition):
        present = [name for name in dict.fromkeys(wanted) if name in batch.column_names]
        file = BatchFile(Path(partition.path), batch.schema, inferred, iter(()), dialect)
        typed = ChunkReader(file, model.features, "missing").read(batch.select(present), row, TransformReport())
        out = out.merge(drift_counts(model, typed))
        row += batch.num_rows
    return out
