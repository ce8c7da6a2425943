"""The default path on every real dataset: `oddsline train DATA --target T` with the inferred spec.

What a new user meets first must hold on every table: exit 0; a coefficient table without a
non-finite or non-positive standard error; no constant, identifier or stored-index column used as a
feature, each column left out listed with its reason and nothing dropped silently; columns that
record the outcome named in a warning.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import oddsline

from .conftest import Dataset, run_cli

NAMES = [
    "telco",
    "credit_scoring",
    "islr_default",
    "caravan",
    "phone_churn",
    "spam7",
    "lending_club",
    "flights_sample",
    "flights_all_columns",
    "spector",
    "anes96",
    "fair",
    "star98",
]


@pytest.fixture(scope="module")
def trained(real_datasets, tmp_path_factory):
    """Each dataset trained once through the command (the default path), as (dataset, run, model)."""
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for name in NAMES:
        data = real_datasets[name]
        path = folder / f"{name}.odl"
        done = run_cli("train", *data.train_args(), "--out", str(path), "--json")
        out[name] = (data, done, oddsline.load(path) if done.returncode == 0 else None)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_the_default_path_trains(trained, name):
    _, done, model = trained[name]
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["model"].endswith(f"{name}.odl")
    assert "Traceback" not in done.stderr and "RuntimeWarning" not in done.stderr
    assert model is not None


@pytest.mark.parametrize("name", NAMES)
def test_standard_errors_are_positive_numbers_or_declared_not_estimable(trained, name):
    _, _, model = trained[name]
    result = model.inference()
    estimable = [i for i, n in enumerate(result.param_names) if n not in result.aliased]
    assert np.all(np.isfinite(result.bse[estimable])), result.summary()
    assert np.all(result.bse[estimable] > 0), result.summary()
    assert "nan" not in result.summary().lower().replace("(no standard error", "")


@pytest.mark.parametrize("name", NAMES)
def test_no_constant_identifier_or_index_column_is_a_feature(trained, name):
    data, _, model = trained[name]
    table = oddsline.read_table(data.path)
    ignored = model.info["ignored_columns"]
    used = set(model.features.source_columns)
    for column in used:
        values = table.column(column)
        distinct = pc.count_distinct(values, mode="all").as_py()
        assert distinct > 1, f"{column} is constant but is a feature"
        assert not column.startswith("__index_level_"), f"pandas' stored index {column} is a feature"
        if pa.types.is_string(values.type):
            present = len(values) - values.null_count
            assert pc.count_distinct(values).as_py() < 0.9 * present, f"{column} is an identifier but a feature"
    # Every column is accounted for: a feature, the target, or left out with a reason.
    assert set(table.column_names) == used | {data.target} | set(ignored)
    assert all(reason for reason in ignored.values())
    # Nothing is left out by accident: what the default path drops here is what a reader would drop.
    if name == "flights_all_columns":
        assert ignored["year"].startswith("constant")
        assert model.features.columns[model.features.source_columns.index("time_hour")].kind == "datetime"
        assert next(c for c in model.features.columns if c.sources == ("flight",)).kind in ("categorical", "target")
        assert "__index_level_0__" not in table.column_names  # read away by the reader, never a feature


@pytest.mark.parametrize("name", NAMES)
def test_columns_that_record_the_outcome_are_named(trained, name):
    data, done, model = trained[name]
    warnings = model.info.get("warnings", [])
    for column in data.leaky:
        assert any(repr(column) in w for w in warnings), warnings
        assert f"warning: possible target leakage: column {column!r}" in done.stderr
    if not data.leaky:
        assert warnings == [], warnings


def test_allow_leaky_and_an_explicit_spec_silence_the_leakage_warning(real_datasets, tmp_path):
    fair: Dataset = real_datasets["fair"]
    allowed = run_cli("train", *fair.train_args(), "--out", str(tmp_path / "a.odl"), "--allow-leaky")
    assert allowed.returncode == 0 and "leakage" not in allowed.stderr
    spec = tmp_path / "spec.yaml"
    inferred = run_cli("spec", "infer", str(fair.path), "--target", fair.target)
    spec.write_text(inferred.stdout)
    declared = run_cli("train", *fair.train_args(), "--out", str(tmp_path / "b.odl"), "--spec", str(spec))
    assert declared.returncode == 0 and "leakage" not in declared.stderr
    ignored = run_cli("train", *fair.train_args(), "--out", str(tmp_path / "c.odl"), "--ignore", "affairs")
    assert ignored.returncode == 0 and "leakage" not in ignored.stderr
    assert oddsline.load(tmp_path / "c.odl").info["ignored_columns"] == {"affairs": "ignored as asked"}


def test_the_time_column_of_a_time_split_is_not_a_feature(real_datasets, tmp_path):
    flights: Dataset = real_datasets["flights_all_columns"]
    path = tmp_path / "t.odl"
    done = run_cli(
        "train",
        *flights.train_args(),
        "--split",
        "time",
        "--time-column",
        "time_hour",
        "--out",
        str(path),
        "--allow-leaky",
    )
    assert done.returncode == 0, done.stderr
    model = oddsline.load(path)
    assert "time_hour" not in model.features.source_columns
    assert model.info["ignored_columns"]["time_hour"] == "the time column of the time split"
    assert "left out 'time_hour': the time column of the time split" in done.stdout


def test_a_multinomial_default_path_lists_what_it_left_out(real_datasets, tmp_path):
    flights: Dataset = real_datasets["flights_all_columns"]
    path = tmp_path / "origin.odl"
    done = run_cli("train", str(flights.path), "--target", "origin", "--ignore", "late", "--out", str(path))
    assert done.returncode == 0, done.stderr
    assert "left out 'year': constant: 2013 in every row" in done.stdout
    model = oddsline.load(path)
    assert model.kind == "multinomial_logistic_regression" and "year" in model.info["ignored_columns"]
    assert set(model.classes) == {"EWR", "JFK", "LGA"}
