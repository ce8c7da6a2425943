"""Every supported table input becomes the same Arrow table; unreadable files get clear errors."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import oddsline
from oddsline import DataError, ParameterError, ReadError, read_table
from oddsline.csv_dialect import SAMPLE_BYTES, CsvDialect, sniff_dialect
from oddsline.csv_numbers import parse_numbers
from oddsline.io import NULL_VALUES, atomic_path, to_arrow, write_table


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
    with pytest.raises(ReadError, match="is a folder.*oddsline train and oddsline predict read folders"):
        read_table(tmp_path)
    with pytest.raises(ReadError, match=r"is a pattern: .*name one of its files"):
        read_table(tmp_path / "*.csv")


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


# -- CSV dialects: sniffed from the first 64 KiB, or given ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b\n1,2\n", ","),
        ("a;b\n1,5;2\n", ";"),  # decimal commas split the data lines, not the header
        ("a\tb\n1\t2\n", "\t"),
        ("a|b\n1|2\n", "|"),
        ('a;b\n"x;y";2\n', ";"),  # quotes respected
        ("single\n1\n", ","),  # nothing to split
        ("a,b\n1,2,3\n", ","),  # ragged: the reader reports it
    ],
)
def test_delimiter_is_sniffed(tmp_path, text, delimiter):
    path = tmp_path / "t.csv"
    path.write_text(text)
    assert sniff_dialect(path).delimiter == delimiter


def test_a_one_column_file_is_split_by_its_extension(tmp_path):
    for name, delimiter in (("names.tsv", "\t"), ("names.csv", ",")):
        path = tmp_path / name
        path.write_text("name\nSmith, John\nDoe, Jane\n")
        assert sniff_dialect(path).delimiter == delimiter
    assert read_table(tmp_path / "names.tsv").column("name").to_pylist() == ["Smith, John", "Doe, Jane"]


def test_only_the_first_64_kib_are_read_to_sniff(tmp_path):
    path = tmp_path / "t.csv"
    body = "a;b\n" + "1;2\n" * (SAMPLE_BYTES // 4) + "\xe9,\xe9,\xe9\n" * 10
    path.write_bytes(body.encode("cp1252"))
    assert sniff_dialect(path) == CsvDialect(";", "utf-8")  # what lies past the sample is not looked at


@pytest.mark.parametrize(("given", "expected"), [("\\t", "\t"), ("tab", "\t"), (";", ";"), ("|", "|")])
def test_given_delimiter_is_used_as_given(tmp_path, given, expected):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n")
    assert sniff_dialect(path, delimiter=given).delimiter == expected


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("a,b\n1,é\n".encode(), "utf-8"),
        (b"\xef\xbb\xbfa,b\n1,2\n", "utf-8"),
        ("a,b\n1,é\n".encode("utf-16"), "utf-16"),
        ("a,b\n1,é€\n".encode("cp1252"), "cp1252"),
    ],
)
def test_encoding_is_sniffed(tmp_path, data, encoding):
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    assert sniff_dialect(path).encoding == encoding
    assert read_table(path).column("b").to_pylist()[0] in ("é", "é€", 2)


def test_a_utf8_character_cut_by_the_sample_end_is_not_a_decoding_error(tmp_path):
    path = tmp_path / "t.csv"
    filler = "a,b\n" + "1,x\n" * ((SAMPLE_BYTES - 5) // 4)
    path.write_bytes((filler + "2,é\n" * 10).encode())
    for cut in range(3):  # the sample may end inside the two bytes of é
        path.write_bytes((filler[: len(filler) - cut] + "2,é\n" * 10).encode())
        assert sniff_dialect(path).encoding == "utf-8"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"delimiter": "::"}, "--delimiter"), ({"delimiter": "\n"}, "--delimiter"), ({"encoding": "nope"}, "--encoding")],
)
def test_bad_read_options_name_their_flag(tmp_path, kwargs, match):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ParameterError, match=match):
        read_table(path, **kwargs)


def test_arrow_default_missing_markers_are_the_documented_ones():
    import oddsline.io

    assert set(NULL_VALUES) >= {"", "NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "#N/A"}
    assert "?" not in NULL_VALUES and "-" not in NULL_VALUES
    for marker in NULL_VALUES:
        assert f"``{marker}``" in oddsline.io.__doc__ or marker == "", marker


def test_extra_missing_markers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,level\n1,a\n-,-\n?,b\nNA,NULL\n")
    with pytest.raises(DataError, match=r"column 'x' .*'\?'.*--na-values"):
        read_table(path)
    table = read_table(path, na_values=["?", "-"])
    assert table.column("x").to_pylist() == [1, None, None, None]
    assert table.column("level").to_pylist() == ["a", None, "b", None]


# -- decimal commas -------------------------------------------------------------------------------------


def test_decimal_comma_columns_become_the_numbers_they_spell(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("price;total;code;label\n29,85;1.889,50;1,2;x\n70;-12,5;3;y\n;1.234.567,0;1,2,3;z\n")
    table = read_table(path)
    assert table.column("price").to_pylist() == [29.85, 70.0, None]
    assert table.column("total").to_pylist() == [1889.5, -12.5, 1234567.0]
    assert table.column("code").type == pa.string()  # "1,2,3" is no number: the column stays text
    comma = tmp_path / "comma.csv"
    comma.write_text('price,label\n"29,85",x\n"70,1",y\n')
    assert read_table(comma).column("price").to_pylist() == ["29,85", "70,1"]  # the comma separates fields


def test_parse_numbers_marks_what_is_not_a_number():
    strings = pa.array(["1.5", " 2 ", None, "abc", "1,5", "1.234,5", "-inf", "1e3", "?"])
    values, bad = parse_numbers(strings, decimal_comma=True)
    assert values.to_pylist()[:3] == [1.5, 2.0, None] and values.to_pylist()[4:8] == [1.5, 1234.5, -np.inf, 1000.0]
    assert bad.tolist() == [False, False, False, True, False, False, False, False, True]
    values, bad = parse_numbers(strings, decimal_comma=False)
    assert bad.tolist() == [False, False, False, True, True, True, False, False, True]
    assert values.null_count == 5


# -- header names, pandas indexes ----------------------------------------------------------------------


def test_duplicate_names_are_refused_in_files_and_tables(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,a,b,c\n1,2,3,4,5\n")
    with pytest.raises(DataError, match=r"'a' \(2 times\), 'b' \(2 times\); rename"):
        read_table(path)
    with pytest.raises(DataError, match="'x' .2 times"):
        to_arrow(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"]))


def test_pandas_positional_index_is_dropped_and_a_named_one_kept(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1.0, -2.0, 3.0, 4.0], "y": ["a", "b", "c", "d"]})
    filtered = tmp_path / "filtered.parquet"
    frame[frame.x > 0].to_parquet(filtered)  # rows 0, 2, 3: no longer a range, so pandas stores the index
    assert pq.read_schema(filtered).names == ["x", "y", "__index_level_0__"]
    table = read_table(filtered)
    assert table.column_names == ["x", "y"] and table.column("x").to_pylist() == [1.0, 3.0, 4.0]
    named = frame.set_index(pd.Index([7, 8, 9, 5], name="customer_id"))
    named.to_parquet(tmp_path / "named.parquet")
    assert read_table(tmp_path / "named.parquet").column("customer_id").to_pylist() == [7, 8, 9, 5]
    assert to_arrow(named).column_names == ["x", "y", "customer_id"]  # as pandas stores it in Parquet
    assert to_arrow(named).schema.pandas_metadata["index_columns"] == ["customer_id"]
    assert to_arrow(frame[frame.x > 0]).column_names == ["x", "y"]
    with pytest.raises(DataError, match="index 'x' has the name of one of its columns"):
        to_arrow(frame.set_index(pd.Index([1, 2, 3, 4], name="x")))


# -- file modes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("umask", "private", "mode"), [(0o022, False, 0o644), (0o077, False, 0o600), (0o002, True, 0o600)]
)
def test_atomic_path_creates_files_as_the_umask_says_unless_private(tmp_path, umask, private, mode):
    target = tmp_path / "out.bin"
    old = os.umask(umask)
    try:
        with atomic_path(target, private=private) as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == mode
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_dict_rows_arrow_cannot_type_in_one_go_score_as_the_server_reads_them(telco_model, telco_table):
    """An integer past int64 raised a raw OverflowError from predict_proba (the server, predict_one and
    the CLI clip it); a column mixing numbers and numeric text raised ArrowInvalid."""
    rows = telco_table.slice(0, 2).drop(["churn"]).to_pylist()
    huge = [{**rows[0], "tenure": 10**30}, rows[1]]
    as_float = [{**rows[0], "tenure": 1e30}, rows[1]]
    assert telco_model.predict_proba(huge).tolist() == telco_model.predict_proba(as_float).tolist()
    mixed = [{**rows[0], "tenure": "12"}, {**rows[1], "tenure": 5}]
    same = [{**rows[0], "tenure": 12.0}, {**rows[1], "tenure": 5.0}]
    assert telco_model.predict_proba(mixed).tolist() == telco_model.predict_proba(same).tolist()
    with pytest.raises(oddsline.SchemaError, match="tenure"):
        telco_model.predict_proba([{**rows[0], "tenure": "abc"}, rows[1]])
