"""Where rows come from when a table is too large to hold in memory.

A source is a folder, a glob or a list of CSV/Parquet/Arrow files (or a Dask DataFrame), cut into partitions (a CSV or Arrow
file, or a Parquet row group) that are read one record batch at a time. Every batch is given the types
the feature spec asks for (numbers, booleans, timestamps, text), never types guessed per batch: a CSV
whose later rows turn integers into decimals, or hold a stray null marker, reads the same as a file
read whole.
"""

from .files import FileSource, Partition, open_source
from .frames import FramePartition, FrameSource, is_dask_frame
from .typed import column_kinds, typed_batch

__all__ = [
    "FileSource",
    "FramePartition",
    "FrameSource",
    "Partition",
    "column_kinds",
    "is_dask_frame",
    "open_source",
    "typed_batch",
]
