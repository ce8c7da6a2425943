"""The prediction log's files as ``oddsline serve`` writes them: their names, their columns, and reading
them back. Here rather than in serve/ so that ``oddsline monitor --log`` and the label join read a
log without the serve extra."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["FILES", "SCHEMA", "read_predictions"]

FILES = "predictions-*.parquet"  # the log's files in its folder (each complete: written, then renamed)

SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("prediction_id", pa.string()),  # what a label names: the request id, or "<request id>:<row>" in a batch
        ("time", pa.timestamp("us", tz="UTC")),
        ("model", pa.string()),
        ("version", pa.string()),
        ("route", pa.string()),
        ("features", pa.string()),  # the row as JSON, PII columns hashed
        ("raw_probability", pa.float64()),
        ("probability", pa.float64()),
        ("decision", pa.bool_()),
        ("latency_ms", pa.float64()),
    ]
)


def read_predictions(folder: str | os.PathLike[str]) -> pa.Table:
    """Every logged prediction in ``folder`` (an empty table of the log's columns when there are none)."""
    files = sorted(Path(folder).glob(FILES))
    if not files:
        return SCHEMA.empty_table()
    return pa.concat_tables((pq.read_table(f) for f in files), promote_options="default")
