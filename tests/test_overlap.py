"""Overlap of an evaluated table with the training rows, estimated from the sketch the model keeps."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import oddsline
from oddsline.overlap import SKETCH_SIZE, overlap_share, row_hashes, training_sketch
from test_cli import run


def test_the_share_is_estimated_without_bias_on_real_rows(telco_table):
    columns = telco_table.column_names
    sketch = training_sketch(telco_table.slice(0, 5000), columns)
    assert len(sketch["hashes"]) == SKETCH_SIZE
    assert overlap_share(sketch, telco_table.slice(0, 5000)) == 1.0
    # Half training rows, half others: the estimate is near one half (exact count known by brute force).
    mixed = pa.concat_tables([telco_table.slice(2500, 1000), telco_table.slice(6000, 1000)])
    training = row_hashes(telco_table.slice(0, 5000), columns)
    truth = np.isin(row_hashes(mixed, columns), training).mean()
    assert overlap_share(sketch, mixed) == pytest.approx(truth, abs=0.12)


def test_hashes_do_not_depend_on_the_file_format_or_integer_vs_float(telco_table):
    as_float = telco_table.set_column(
        telco_table.column_names.index("tenure"), "tenure", telco_table.column("tenure").cast(pa.float64())
    )
    assert np.array_equal(row_hashes(telco_table, ["tenure", "churn"]), row_hashes(as_float, ["tenure", "churn"]))
    assert not np.array_equal(
        row_hashes(telco_table, ["tenure", "churn"]), row_hashes(telco_table, ["churn", "tenure"])
    )


def test_evaluate_on_the_training_file_warns_and_on_held_out_rows_does_not(telco_path, tmp_path):
    model = tmp_path / "m.odl"
    assert run("train", str(telco_path), "--target", "churn", "--out", str(model)).returncode == 0
    same = run("evaluate", str(model), str(telco_path), "--bootstrap", "0")
    assert same.returncode == 0 and "about 80% of these rows are rows the model was trained on" in same.stderr
    held_out = oddsline.load(model).info["evaluation"]["training_overlap"]
    assert held_out < 0.02  # only the file's own duplicate rows
