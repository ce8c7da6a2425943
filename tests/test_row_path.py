"""The single-row path and the table path give the same design values and the same probability, bit for
bit, on random rows with missing values, unseen levels and out-of-range numbers (hypothesis)."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oddsline import FeatureSpec, SchemaError
from oddsline.features import TransformReport
from oddsline.model import Model
from oddsline.target import BinaryTarget

LEVELS = ["a", "b", "c", "rare", "ümlaut"]


def _training_table(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 10
    x[rng.uniform(size=n) < 0.1] = np.nan
    return pa.table(
        {
            "x": pa.array(x, from_pandas=True),
            "w": rng.lognormal(size=n),
            "c": pa.array([*list(rng.choice(LEVELS[:3], n - 1)), "rare"]),
            "b": pa.array([bool(v) if v < 2 else None for v in rng.integers(0, 3, n)]),
            "t": pa.array(
                [dt.datetime(2024, 1, 1) + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 500_000, n)]
            ),
            "z": pa.array([f"z{i}" for i in rng.integers(0, 120, n)]),
            "h": pa.array([f"h{i}" for i in rng.integers(0, 30, n)]),
        }
    )


SPEC = FeatureSpec.from_dict(
    {
        "columns": [
            {"name": "x", "kind": "numeric", "clip": [0.02, 0.98]},
            {"name": "w", "kind": "numeric", "log1p": True, "scale": "robust"},
            {"name": "c", "kind": "categorical", "min_frequency": 2},
            {"name": "b", "kind": "boolean"},
            {"name": "t", "kind": "datetime"},
            {"name": "z", "kind": "target"},
            {"name": "h", "kind": "hashed", "bits": 5},
            {"kind": "interaction", "columns": ["x", "w"]},
            {"kind": "interaction", "columns": ["c", "h"], "bits": 4},
        ]
    }
)


@pytest.fixture(scope="module")
def model():
    table = _training_table()
    y = (np.random.default_rng(1).uniform(size=table.num_rows) < 0.4).astype(float)
    features, X = SPEC.fit_transform(table, y)
    coef = np.random.default_rng(2).normal(size=X.shape[1])
    coef[3] = 0.0  # a zero coefficient must not break the agreement
    return Model(features, BinaryTarget("y", 0, 1), coef, intercept=-0.3)


numbers = st.one_of(st.none(), st.floats(-1e3, 1e3, allow_nan=False), st.integers(-100, 100))
rows = st.fixed_dictionaries(
    {
        "x": numbers,
        "w": st.one_of(st.none(), st.floats(0, 1e4, allow_nan=False)),
        "c": st.one_of(st.none(), st.sampled_from(LEVELS), st.text(max_size=3)),
        "b": st.one_of(st.none(), st.booleans()),
        "t": st.one_of(st.none(), st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1))),
        "z": st.one_of(st.none(), st.sampled_from(["z1", "z7", "z119", "never"])),
        "h": st.one_of(st.none(), st.text(max_size=4)),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(rows, min_size=1, max_size=5))
def test_row_and_table_paths_agree_bit_for_bit(model, batch):
    for row in batch:  # a float column must stay float in the table, as it would from a file
        if isinstance(row["x"], int):
            row["x"] = float(row["x"])
    table = pa.Table.from_pylist(
        batch,
        schema=pa.schema(
            [
                ("x", pa.float64()),
                ("w", pa.float64()),
                ("c", pa.string()),
                ("b", pa.bool_()),
                ("t", pa.timestamp("us")),
                ("z", pa.string()),
                ("h", pa.string()),
            ]
        ),
    )
    table_report, row_report = TransformReport(), TransformReport()
    X = model.features.transform(table, table_report)
    p_table = model.predict_proba(table)[:, 1]
    for i, row in enumerate(batch):
        dense = np.zeros(X.shape[1])
        for j, v in model.features.encode_row(row, row_report):
            dense[j] = v
        assert dense.tobytes() == X[i].tobytes()
        one = model.predict_one(row)
        assert one.probability == p_table[i] or (math.isnan(one.probability) and math.isnan(p_table[i]))
        assert one.label == (1 if one.probability >= model.threshold else 0)
    assert row_report.to_dict() == table_report.to_dict()


def test_row_errors_name_the_column(model):
    row = {"x": 1.0, "w": 1.0, "c": "a", "b": True, "t": None, "z": "z1", "h": "q"}
    with pytest.raises(SchemaError, match="lacks column.*'w'"):
        model.predict_one({k: v for k, v in row.items() if k != "w"})
    with pytest.raises(SchemaError, match="column 'x' must be numeric but holds 'abc'"):
        model.predict_one({**row, "x": "abc"})
    with pytest.raises(SchemaError, match="column 't' must hold timestamps"):
        model.predict_one({**row, "t": "yesterday"})
    report = TransformReport()
    model.predict_one({**row, "extra": 5}, report)
    assert report.counts["unexpected_column"] == {"extra": 1}


loose = st.one_of(numbers, st.booleans(), st.sampled_from(["3.5", "-1", "1e400", " 2 "]))
loose_rows = st.fixed_dictionaries(
    {
        "x": loose,
        "w": st.one_of(st.none(), st.floats(0, 1e4, allow_nan=False), st.integers(0, 10)),
        "c": st.one_of(
            st.none(), st.sampled_from(LEVELS), st.text(max_size=3), st.integers(0, 3), st.booleans(), st.just([1])
        ),
        "b": st.one_of(st.none(), st.booleans(), st.sampled_from([0, 1, 1.0, "yes", "N", "T"])),
        "t": st.one_of(st.none(), st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1))),
        "z": st.one_of(st.none(), st.sampled_from(["z1", "z7", "z119", "never"])),
        "h": st.one_of(st.none(), st.text(max_size=4)),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(loose_rows, min_size=1, max_size=40))
def test_a_list_of_rows_scores_each_row_as_it_scores_alone(model, batch):
    """predict_rows (what the server does with a JSON list) equals predict_one row by row, bit for bit,
    with the same counts of imputed, rare, unseen and out-of-range values."""
    alone_report, batch_report = TransformReport(), TransformReport()
    alone = [model.predict_one(row, alone_report).raw_probability for row in batch]
    together = model.predict_rows(batch, batch_report, raw=True).tolist()
    assert np.array(together).tobytes() == np.array(alone).tobytes()
    assert batch_report.to_dict() == alone_report.to_dict()


def test_a_list_of_rows_is_refused_as_its_rows_are(model):
    row = {"x": 1.0, "w": 1.0, "c": "a", "b": True, "t": None, "z": "z1", "h": "q"}
    with pytest.raises(SchemaError, match="lacks column.*'w'"):
        model.predict_rows([row, {k: v for k, v in row.items() if k != "w"}])
    with pytest.raises(SchemaError, match="column 'x' must be numeric but holds 'abc'"):
        model.predict_rows([row, {**row, "x": "abc"}])
    with pytest.raises(SchemaError, match="column 'x' must be numeric"):
        model.predict_rows([row, {**row, "x": [1, 2]}])
    with pytest.raises(SchemaError, match="column 'b'"):
        model.predict_rows([row, {**row, "b": "maybe"}])
    report = TransformReport()
    model.predict_rows([row, {**row, "extra": 5}, {**row, "extra": 6}], report)
    assert report.counts["unexpected_column"] == {"extra": 2} and report.rows == 3


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(loose_rows, min_size=1, max_size=40))
def test_rows_decoded_into_columns_score_as_each_row_scores_alone(model, batch):
    """What the server does with a JSON list of exactly the model's columns: decoded straight into
    columns, scored bit for bit as each row of the usual parse scores alone, with the same counts."""
    pytest.importorskip("msgspec", reason="the serve extra is not installed")
    from hypothesis import assume

    from oddsline.serve.columns import RowDecoder
    from oddsline.serve.errors import ServiceError
    from oddsline.serve.payloads import parse_json

    body = json.dumps(batch, default=lambda v: v.isoformat()).encode()
    try:
        parsed = parse_json(body)  # the usual parse
    except ServiceError:  # a lone surrogate in generated text: not JSON the server takes
        assume(False)
    decoded = RowDecoder(model.features.source_columns).decode(body)
    assert decoded is not None and [decoded.row(i) for i in range(len(decoded))] == parsed
    alone_report, batch_report = TransformReport(), TransformReport()
    alone = [model.predict_one(row, alone_report).raw_probability for row in parsed]
    together = model.predict_rows(decoded, batch_report, raw=True).tolist()
    assert np.array(together).tobytes() == np.array(alone).tobytes()
    assert batch_report.to_dict() == alone_report.to_dict()
