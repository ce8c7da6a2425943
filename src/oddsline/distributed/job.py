"""What every pass over a source shares: the source, the columns and their types, and which rows train.

A ``Job`` is small and picklable, so a Dask worker receives it with each task. Rows are assigned to the
training or the held-out side by a hash of their position (the file's name and the row's number in the
file), so the split is the same on every pass, on every engine and for any partitioning or batch size,
and needs no state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .._exceptions import TargetError
from ..features import FeatureSpec
from ..sources import FileSource, FrameSource, Partition, column_kinds, typed_batch

__all__ = ["Job", "RowBatch", "file_key", "position_hashes", "row_batches", "unit_interval"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Job:
    source: FileSource | FrameSource
    spec: FeatureSpec
    target: str
    test_size: float = 0.0
    seed: int = 0
    drop_missing_target: bool = False

    @property
    def kinds(self) -> dict[str, str]:
        return column_kinds(self.spec)

    @property
    def columns(self) -> list[str]:
        """The columns read: the spec's sources, then the target."""
        names = list(self.kinds)
        return [*names, self.target] if self.target not in names else names


@dataclass
class RowBatch:
    """Rows of one batch on one side of the split, typed as the spec reads them."""

    table: pa.Table
    position_hash: NDArray[np.uint64]  # of each row: the split and the row samples are drawn from it
    where: str
    first_row: int  # data row number (0-based) of the batch's first row in its file
    dropped: int = 0  # rows left out for a missing target (--drop-missing-target)


def row_batches(partition: Partition, job: Job, side: str = "train") -> Iterator[RowBatch]:
    """The partition's rows of one side ("train", "test" or "all"), batch by batch, in file order."""
    kinds = job.kinds
    row = partition.first_row
    file_key = _file_key(partition.path, job.seed)
    for batch, dialect, inferred in job.source.batches(partition, job.columns):
        n = batch.num_rows
        typed = typed_batch(batch, kinds, dialect, inferred, partition.path, row)
        hashes = position_hashes(file_key, row, n)
        keep = _missing_target(typed, job, partition.path, row)
        if side != "all" and job.test_size > 0:
            held = unit_interval(hashes) < job.test_size
            side_rows = held if side == "test" else ~held
            keep = side_rows if keep is None else keep & side_rows
        dropped = 0
        if keep is not None:
            if side == "all":
                dropped = int(n - keep.sum())
            typed = typed.filter(pa.array(keep))
            hashes = hashes[keep]
        yield RowBatch(typed, hashes, partition.path, row, dropped)
        row += n


def position_hashes(file_key: np.uint64, first_row: int, n: int) -> NDArray[np.uint64]:
    """The hash of rows first_row .. first_row + n - 1 of the file with this key."""
    with np.errstate(over="ignore"):
        return _mix(np.arange(first_row, first_row + n, dtype=np.uint64) * _GOLDEN + file_key)


def file_key(path: str, seed: int) -> np.uint64:
    return _file_key(path, seed)


def unit_interval(hashes: NDArray[np.uint64]) -> NDArray[np.float64]:
    """Hashes as uniform numbers in [0, 1)."""
    return (hashes >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _missing_target(table: pa.Table, job: Job, where: str, first_row: int) -> NDArray[np.bool_] | None:
    column = table.column(job.target)
    if not column.null_count:
        return None
    if not job.drop_missing_target:
        at = int(np.flatnonzero(pc.is_null(column).to_numpy(zero_copy_only=False))[0])
        raise TargetError(
            f"{where}: target column {job.target!r} is empty in data row {first_row + at + 1} (and "
            f"{column.null_count - 1} more in its batch); fill in the labels or drop those rows "
            "(--drop-missing-target)"
        )
    return np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)


def _file_key(path: str, seed: int) -> np.uint64:
    digest = hashlib.blake2b(f"{Path(path).name}\x00{seed}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _mix(h: NDArray[np.uint64]) -> NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint64(30))
        h = h * np.uint64(0xBF58476D1CE4E5B9)
        h = h ^ (h >> np.uint64(27))
        h = h * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))
