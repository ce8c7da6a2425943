"""Every supported table input becomes the same Arrow table; unreadable files get clear errors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oddsline import DataError, ReadError, read_table
from oddsline.io import to_arrow, write_table


def test_all_input_kinds_give_the_same_table(telco_path, tmp_path):
    import pandas as pd
    import polars as pl

    reference = read_table(telco_path).slice(0, 50)
    parquet = tmp_path / "t.parquet"
    pq.write_table(reference, parquet)
    kinds = [
        reference,
        parquet,
        str(parquet),
        pd.read_parquet(parquet),
        pl.read_parquet(parquet),
        reference.to_pylist(),
        reference.to_pydict(),
    ]
    for kind in kinds:
        table = to_arrow(kind)
        assert table.column_names == reference.column_names
        assert table.to_pylist() == reference.to_pylist(), type(kind)


def test_numpy_matrix_gets_positional_names():
    table = to_arrow(np.arange(6.0).reshape(3, 2))
    assert table.column_names == ["x0", "x1"]
    assert table.column("x1").to_pylist() == [1.0, 3.0, 5.0]


@pytest.mark.parametrize(
    ("content", "name", "match"),
    [
        (b"", "empty.csv", "is empty"),
        (b"a,b\n", "header_only.csv", "no data rows"),
        (b"a,b\n1,2,3\n4\n", "ragged.csv", "could not be read as CSV"),
        (b"PAR1 not really parquet", "bad.parquet", "could not be read as PARQUET"),
        (b"a,b\n1,2\n", "table.xlsx", "unknown file type"),
    ],
)
def test_unreadable_files_name_the_problem(tmp_path, content, name, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReadError, match=match):
        read_table(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ReadError, match="no such file"):
        read_table(tmp_path / "absent.csv")
    with pytest.raises(ReadError, match="is a folder"):
        read_table(tmp_path)


def test_unsupported_object_is_refused():
    with pytest.raises(DataError, match="cannot use int as a table"):
        to_arrow(42)


def test_write_is_atomic_and_leaves_nothing_on_failure(tmp_path):
    table = pa.table({"a": [1, 2]})
    out = tmp_path / "out.csv"
    write_table(table, out)
    assert read_table(out).to_pylist() == [{"a": 1}, {"a": 2}]
    with pytest.raises(DataError, match=r"\.csv or \.parquet"):
        write_table(table, tmp_path / "out.json")
    bad = pa.table({"a": pa.array([[1], [2]])})  # lists cannot be written as CSV
    with pytest.raises(pa.ArrowException):
        write_table(bad, tmp_path / "lists.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
