"""Sources shared by the scale tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

STACKED_COPIES = 32


@pytest.fixture(scope="session")
def stacked_telco(telco_table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, Path]:
    """The bundled telco churn table stacked 32 times (225,376 rows, more than four row samples), as
    Parquet files of 60,000 rows in row groups of 20,000."""
    table = pa.concat_tables([telco_table] * STACKED_COPIES)
    folder = tmp_path_factory.mktemp("stacked")
    for i, start in enumerate(range(0, table.num_rows, 60_000)):
        pq.write_table(table.slice(start, 60_000), folder / f"part{i}.parquet", row_group_size=20_000)
    return table, folder
