"""Batch scoring of files too large to hold: read in record batches, score, append to the output.

Memory stays at one batch (default 65,536 rows) whatever the file size; the output is written under a
temporary name and renamed at the end, so an interrupted run leaves no partial file. Input events
(imputed values, unseen levels, ...) are counted across the whole file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ._exceptions import DataError, ReadError, SchemaError
from .features import TransformReport
from .io import atomic_path, read_table

if TYPE_CHECKING:
    from .model import Model

__all__ = ["iter_batches", "score_file"]


def iter_batches(path: str | os.PathLike[str], batch_rows: int = 65_536) -> Iterator[pa.Table]:
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        source = pq.ParquetFile(p)
        for batch in source.iter_batches(batch_size=batch_rows):
            yield pa.Table.from_batches([batch])
    elif suffix in (".csv", ".tsv", ".txt"):
        try:
            reader = pacsv.open_csv(
                p,
                read_options=pacsv.ReadOptions(block_size=1 << 24),
                parse_options=pacsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ","),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
            )
            for batch in reader:
                yield pa.Table.from_batches([batch])
        except pa.ArrowInvalid as exc:
            raise ReadError(f"{p} could not be read as CSV: {str(exc).splitlines()[0]}") from None
    else:
        yield read_table(p)


def score_file(
    model: Model,
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    id_column: str | None = None,
    batch_rows: int = 65_536,
) -> tuple[int, TransformReport]:
    """Score every row of ``source`` into ``out`` (.csv or .parquet); returns (rows, input report)."""
    target = Path(out)
    if target.suffix.lower() not in (".csv", ".parquet"):
        raise DataError(f"{target}: choose an output ending in .csv or .parquet")
    report = TransformReport()
    rows = 0
    writer: Any = None
    labels = np.array(model.classes, dtype=object)
    with atomic_path(target) as tmp:
        try:
            for chunk in iter_batches(source, batch_rows):
                if id_column is not None and id_column not in chunk.column_names:
                    raise SchemaError(
                        f"--id column {id_column!r} is not in {source}; its columns are {chunk.column_names}"
                    )
                p = model.predict_proba(chunk, report)[:, 1]
                columns: dict[str, Any] = {} if id_column is None else {id_column: chunk.column(id_column)}
                columns["probability"] = pa.array(p)
                decided = labels[(p >= model.threshold).astype(int)].tolist()
                columns["prediction"] = pa.array(decided)
                table = pa.table(columns)
                if writer is None:
                    writer = (
                        pq.ParquetWriter(tmp, table.schema)
                        if target.suffix.lower() == ".parquet"
                        else pacsv.CSVWriter(tmp, table.schema)
                    )
                writer.write_table(table)
                rows += chunk.num_rows
        finally:
            if writer is not None:
                writer.close()
    return rows, report
