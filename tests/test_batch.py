"""Batch scoring of a large CSV file whose bad values sit far past the first block Arrow reads.

The file is 220,000 real telco rows (the bundled 7,043 repeated); the reference is the model's own
``predict_proba`` on the whole clean table with the bad cells set to missing.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import oddsline
from oddsline.batch import BAD_VALUE, score_file
from oddsline.batch_reader import BLOCK_BYTES
from oddsline.cli.main import main

ROWS = 220_000
# (data row, 1-based as the error names it; column; value): past the first 16 MiB block (~145,000 rows).
BAD = [(190_001, "tenure", "abc"), (205_000, "female", "maybe"), (219_999, "total_charges", "n.a.")]
FINE = [(200_000, "tenure", "12.5")]  # a decimal in a column of integers: Arrow's block reader used to fail


@pytest.fixture(scope="module")
def big(telco_table, tmp_path_factory):
    """(path of the 220,000-row CSV with the bad and fine cells, the clean table with them as read)."""
    table = telco_table.take(np.arange(ROWS) % telco_table.num_rows)
    lines = csv_lines(table)
    expected = {name: table.column(name).to_pylist() for name in table.column_names}
    for row, name, value in BAD + FINE:
        set_cell(lines, row, name, value)
        expected[name][row - 1] = None if (row, name, value) in BAD else float(value)
    path = tmp_path_factory.mktemp("big") / "big.csv"
    path.write_text("\n".join(lines))
    assert path.stat().st_size > BLOCK_BYTES * 1.2
    clean = pa.table(
        {name: pa.array(values, pa.float64() if name == "tenure" else None) for name, values in expected.items()}
    )
    return path, clean


def csv_lines(table: pa.Table) -> list[str]:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(quoting_style="none"))
    return buffer.getvalue().decode().split("\n")


def set_cell(lines: list[str], row: int, name: str, value: str) -> None:
    """Data row ``row`` (1-based: lines[0] is the header) gets ``value`` in column ``name``."""
    cells = lines[row].split(",")  # the telco values hold no commas
    cells[[h.strip('"') for h in lines[0].split(",")].index(name)] = value
    lines[row] = ",".join(cells)


def cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def test_bad_values_are_scored_as_missing_and_counted(big, telco_model, tmp_path):
    path, clean = big
    model = telco_model.save(tmp_path / "m.odl")
    out = tmp_path / "scores.parquet"
    code, stdout, stderr = cli("predict", model, path, "--out", out, "--json")
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["rows"] == ROWS
    assert summary["bad_values"] == {"tenure": 1, "female": 1, "total_charges": 1}
    assert "3 value(s) that could not be read were scored as missing" in stderr and "--on-bad-value error" in stderr
    expected = telco_model.predict_proba(clean)[:, 1]
    np.testing.assert_array_equal(pq.read_table(out).column("probability").to_numpy(), expected)


def test_error_policy_names_column_row_and_value(big, telco_model, tmp_path):
    path, _ = big
    model = telco_model.save(tmp_path / "m.odl")
    out = tmp_path / "scores.csv"
    code, _, stderr = cli("predict", model, path, "--out", out, "--on-bad-value", "error")
    assert code == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert "column 'tenure', data row 190001: 'abc' is not a number" in stderr and "--on-bad-value missing" in stderr
    assert not out.exists() and not list(tmp_path.glob(".scores*"))


def test_batch_report_counts_bad_values_under_their_own_event(telco_model, telco_table, tmp_path):
    rows = telco_table.slice(0, 40)
    lines = csv_lines(rows)
    set_cell(lines, 17, "senior_citizen", "yes please")  # a boolean column's bad value
    path = tmp_path / "few.csv"
    path.write_text("\n".join(lines))
    count, report = score_file(telco_model, path, tmp_path / "s.parquet", batch_rows=7)
    assert count == 40
    assert report.counts[BAD_VALUE] == {"senior_citizen": 1}
    assert report.to_dict()["imputed"]["senior_citizen"] == 1  # then imputed as the model imputes missing
    with pytest.raises(
        oddsline.SchemaError, match="column 'senior_citizen', data row 17: 'yes please' is not true/false"
    ):
        score_file(telco_model, path, tmp_path / "s.parquet", on_bad_value="error")


def test_policy_and_batch_size_are_checked(telco_model, telco_path, tmp_path):
    with pytest.raises(oddsline.ParameterError, match="'missing' or 'error'"):
        score_file(telco_model, telco_path, tmp_path / "s.csv", on_bad_value="skip")
    with pytest.raises(oddsline.ParameterError, match="--batch-rows"):
        score_file(telco_model, telco_path, tmp_path / "s.csv", batch_rows=0)


def test_a_timestamp_that_does_not_parse_is_a_bad_value(tmp_path):
    rng = np.random.default_rng(0)
    stamps = [f"{np.datetime64('2020-01-01') + int(d)}T10:00:00" for d in rng.integers(0, 365, 300)]
    x = rng.normal(size=300)
    table = pa.table({"x": x, "when": stamps, "y": np.where(x + rng.normal(size=300) > 0, "yes", "no")})
    spec = oddsline.FeatureSpec.from_dict(
        {"columns": [{"name": "x", "kind": "numeric"}, {"name": "when", "kind": "datetime"}]}
    )
    model = oddsline.train(table, target="y", positive="yes", spec=spec)
    lines = csv_lines(table)
    set_cell(lines, 5, "when", "yesterday")
    path = tmp_path / "when.csv"
    path.write_text("\n".join(lines))
    rows, report = score_file(model, path, tmp_path / "s.parquet")
    assert rows == 300 and report.counts[BAD_VALUE] == {"when": 1}
    expected = table.set_column(1, "when", pa.array([None if i == 4 else s for i, s in enumerate(stamps)]))
    np.testing.assert_array_equal(
        pq.read_table(tmp_path / "s.parquet").column("probability").to_numpy(), model.predict_proba(expected)[:, 1]
    )
    with pytest.raises(oddsline.SchemaError, match="column 'when', data row 5: 'yesterday' is not an ISO-8601"):
        score_file(model, path, tmp_path / "s.parquet", on_bad_value="error")


def _with_column(table: pa.Table, name: str, values: list[object]) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, pa.array(values))


def test_a_column_with_not_one_readable_value_is_refused_by_default_and_leaves_no_output(
    telco_model, telco_table, tmp_path
):
    """Another export's format ("12 months" for tenure): every score would rest on an imputed tenure."""
    rows = telco_table.slice(0, 300)
    months = [f"{v} months" for v in rows.column("tenure").to_pylist()]
    path = tmp_path / "months.csv"
    pacsv.write_csv(_with_column(rows, "tenure", months), path)
    model = telco_model.save(tmp_path / "m.odl")
    out = tmp_path / "scores.csv"
    code, _, stderr = cli("predict", model, path, "--out", out, "--batch-rows", "64")
    assert code == 2, stderr
    assert "not one value of column 'tenure' could be read as a number (300 value(s), such as '1 months')" in stderr
    assert "--on-bad-value missing" in stderr
    assert not out.exists() and not list(tmp_path.glob(".scores*"))
    # Asked for, it is scored imputed, and counted.
    count, report = score_file(telco_model, path, out, on_bad_value="missing")
    assert count == 300 and report.counts[BAD_VALUE] == {"tenure": 300}
    expected = telco_model.predict_proba(_with_column(rows, "tenure", [None] * 300))[:, 1]
    np.testing.assert_allclose(pacsv.read_csv(out).column("probability").to_numpy(), expected, rtol=1e-12)


def test_a_column_readable_in_some_batches_is_scored_with_its_bad_values_missing(telco_model, telco_table, tmp_path):
    """Readable values in the first batch, none in the last: stray values, not another format."""
    rows = telco_table.slice(0, 300)
    tenure = [str(v) for v in rows.column("tenure").to_pylist()]
    tenure[250:] = ["unknown yet"] * 50
    empty = [None] * 300  # a column all missing is not unreadable: imputed as ever
    path = tmp_path / "late.csv"
    pacsv.write_csv(_with_column(_with_column(rows, "tenure", tenure), "monthly_charges", empty), path)
    count, report = score_file(telco_model, path, tmp_path / "s.parquet", batch_rows=64)
    assert count == 300 and report.counts[BAD_VALUE] == {"tenure": 50}


def test_text_in_a_numeric_column_of_a_parquet_file_follows_the_bad_value_policy(telco_model, telco_table, tmp_path):
    """pandas writes text as large_string: it was read by the features' own cast, refused whole
    whatever --on-bad-value said, where the same values in a CSV were counted or named by row."""
    rows = telco_table.slice(0, 100)
    tenure = [str(v) for v in rows.column("tenure").to_pylist()]
    tenure[7] = "12 months"
    path = tmp_path / "text.parquet"
    pq.write_table(
        rows.set_column(rows.schema.get_field_index("tenure"), "tenure", pa.array(tenure, pa.large_string())), path
    )
    count, report = score_file(telco_model, path, tmp_path / "s.parquet")
    assert count == 100 and report.counts[BAD_VALUE] == {"tenure": 1}
    with pytest.raises(oddsline.SchemaError, match="column 'tenure', data row 8: '12 months' is not a number"):
        score_file(telco_model, path, tmp_path / "s.parquet", on_bad_value="error")


def test_a_model_input_empty_in_every_row_is_scored_with_a_warning(telco_model, telco_table, tmp_path):
    rows = telco_table.slice(0, 50)
    path = tmp_path / "empty.csv"
    pacsv.write_csv(_with_column(rows, "monthly_charges", [None] * 50), path)
    model = telco_model.save(tmp_path / "m.odl")
    code, stdout, stderr = cli("predict", model, path, "--out", tmp_path / "s.csv", "--json")
    assert code == 0, stderr
    assert "monthly_charges missing in every one of the 50 rows" in stderr
    assert json.loads(stdout)["empty_columns"] == ["monthly_charges"]
