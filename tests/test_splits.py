"""Validation design of ``train``: time and group splits hold out what they promise; --cv picks C as
LogisticRegressionCV does on the same rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import oddsline
from oddsline import ParameterError, SchemaError
from oddsline.splits import group_split, stratified_split, time_split


def _table(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pa.table(
        {
            "day": rng.integers(0, 60, n),
            "customer": [f"c{i}" for i in rng.integers(0, 40, n)],
            "x": x,
            "y": (rng.uniform(size=n) < 1 / (1 + np.exp(-x))).astype(int),
        }
    )


def test_time_split_holds_out_the_latest_rows_and_keeps_ties_together():
    table = _table()
    train, test = time_split(table, "day", 0.25)
    day = table.column("day").to_numpy()
    assert day[train].max() < day[test].min()
    assert abs(len(test) / len(day) - 0.25) < 0.05
    assert np.array_equal(np.sort(np.r_[train, test]), np.arange(len(day)))


def test_a_last_timestamp_larger_than_the_test_share_is_held_out_whole():
    """A monthly export whose last month holds 36% of the rows: that month is held out (it used to go to
    training, leaving nothing to evaluate on)."""
    month = np.repeat(["2026-01-01", "2026-02-01", "2026-03-01"], [3200, 3200, 3600])
    table = pa.table({"month": month, "y": np.arange(month.size) % 2})
    train, test = time_split(table, "month", 0.2)
    assert set(month[test]) == {"2026-03-01"} and len(test) == 3600 and len(train) == 6400
    one_month = pa.table({"month": np.repeat(["2026-01-01"], 100), "y": np.arange(100) % 2})
    train, test = time_split(one_month, "month", 0.2)
    assert len(train) == 100 and len(test) == 0  # nothing later to hold out: the CLI says so


def test_group_split_never_puts_a_group_on_both_sides():
    table = _table()
    train, test = group_split(table, "customer", 0.3, seed=1)
    customer = np.array(table.column("customer").to_pylist())
    assert not set(customer[train]) & set(customer[test])
    assert 0.15 < len(test) / len(customer) <= 0.3


def test_random_split_is_stratified():
    y = (np.arange(1000) % 4 == 0).astype(float)
    _, test = stratified_split(y, 0.2, seed=0)
    assert y[test].mean() == pytest.approx(0.25) and len(test) == 200


def test_train_with_splits_and_cv():
    from oddsline import LogisticRegressionCV

    table = _table()
    by_time = oddsline.train(table, target="y", positive=1, split="time", time_column="day")
    assert by_time.params["split"] == "time" and by_time.info["n_test"] > 100
    grouped = oddsline.train(table, target="y", positive=1, split="group", group_column="customer")
    assert "customer" not in grouped.features.source_columns
    chosen = oddsline.train(table, target="y", positive=1, cv=4, test_size=0.2, seed=3)
    train_idx, _ = stratified_split(np.asarray(table.column("y").to_numpy(), dtype=float), 0.2, 3)
    rows = table.take(pa.array(train_idx))
    X = chosen.features.transform(rows)
    reference = LogisticRegressionCV(20, cv=4, random_state=3).fit(X, rows.column("y").to_numpy())
    assert chosen.params["C"] == pytest.approx(reference.C_)
    with pytest.raises(ParameterError, match="needs --time-column"):
        oddsline.train(table, target="y", positive=1, split="time")
    with pytest.raises(SchemaError, match="--group-column 'nope' is not a column"):
        oddsline.train(table, target="y", positive=1, split="group", group_column="nope")
    with pytest.raises(ParameterError, match="split must be one of"):
        oddsline.train(table, target="y", positive=1, split="kfold")


def test_a_text_time_column_is_ordered_as_time_or_refused():
    iso = pa.table({"t": ["2021-08-18", "2020-12-01", "2021-01-05", "2020-02-29"]})
    _, test = time_split(iso, "t", 0.25)
    assert list(test) == [0]  # the latest date, though "2021-08-18" is not the last text in row order
    us = pa.table({"t": ["08/18/2021", "12/01/2020", "01/05/2021", "02/29/2020"]})
    with pytest.raises(ParameterError, match=r"'t' holds text that is not an ISO-8601 timestamp \(e.g. '08/18/2021'\)"):
        time_split(us, "t", 0.25)
