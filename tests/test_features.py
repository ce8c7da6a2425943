"""Fitted features: design names, imputation and scaling, unknown bucket, and schema errors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from oddsline import FeatureSpec, SchemaError
from oddsline.features import FittedFeatures


def _table():
    return pa.table(
        {
            "tenure": [1.0, 2.0, None, 4.0, 10.0],
            "contract": ["Month", "Year", "Month", None, "Two year"],
            "paperless": [True, False, True, True, False],
            "churn": ["Yes", "No", "No", "Yes", "No"],
        }
    )


def test_inferred_kinds_and_design_names():
    spec = FeatureSpec.infer(_table(), target="churn")
    assert [(c.name, c.kind) for c in spec.columns] == [
        ("tenure", "numeric"),
        ("contract", "categorical"),
        ("paperless", "categorical"),
    ]
    fitted = spec.fit(_table())
    assert fitted.design_names == [
        "tenure",
        "contract=<missing>",
        "contract=Month",
        "contract=Two year",
        "contract=Year",
        "paperless=false",
        "paperless=true",
    ]


def test_numeric_median_imputation_and_standardisation_match_numpy():
    fitted = FeatureSpec.infer(_table(), target="churn").fit(_table())
    X = fitted.transform(_table())
    raw = np.array([1.0, 2.0, 3.0, 4.0, 10.0])  # median of 1,2,4,10 is 3
    np.testing.assert_allclose(X[:, 0], (raw - raw.mean()) / raw.std())
    assert X[:, 0].mean() == pytest.approx(0.0, abs=1e-15)


def test_one_hot_rows_and_unknown_bucket():
    fitted = FeatureSpec.infer(_table(), target="churn").fit(_table())
    new = pa.table({"tenure": [3.0, 3.0], "contract": ["Year", "Weekly"], "paperless": [False, None]})
    X = fitted.transform(new)
    block = X[:, 1:5]
    np.testing.assert_array_equal(block[0], [0, 0, 0, 1])
    np.testing.assert_array_equal(block[1], [0, 0, 0, 0])  # unseen -> unknown bucket, nothing learned
    np.testing.assert_array_equal(X[1, 5:], [0, 0])  # missing never seen in training -> unknown too
    assert fitted.unknown_counts(new) == {"contract": 1, "paperless": 1}


def test_features_are_learned_from_the_fitting_rows_only():
    table = _table()
    fitted = FeatureSpec.infer(table, target="churn").fit(table.slice(0, 2))
    assert fitted.design_names[1:3] == ["contract=Month", "contract=Year"]
    numeric = fitted.columns[0]
    assert numeric.mean == pytest.approx(1.5)


def test_round_trip_through_dict():
    fitted = FeatureSpec.infer(_table(), target="churn").fit(_table())
    again = FittedFeatures.from_dict(fitted.to_dict())
    np.testing.assert_array_equal(again.transform(_table()), fitted.transform(_table()))


def test_schema_errors_name_the_column():
    fitted = FeatureSpec.infer(_table(), target="churn").fit(_table())
    with pytest.raises(SchemaError, match="lacks column.*'contract'"):
        fitted.transform(_table().drop(["contract"]))
    wrong = _table().set_column(0, "tenure", pa.array(["a", "b", "c", "d", "e"]))
    with pytest.raises(SchemaError, match="column 'tenure' must be numeric"):
        fitted.transform(wrong)
    with pytest.raises(SchemaError, match="'when' has type timestamp"):
        FeatureSpec.infer(pa.table({"when": pa.array([0, 1], pa.timestamp("s")), "y": [0, 1]}), target="y")
    with pytest.raises(SchemaError, match="empty in every row"):
        FeatureSpec.infer(pa.table({"blank": pa.nulls(2), "y": [0, 1]}), target="y")
    with pytest.raises(SchemaError, match="cannot ignore 'nope'"):
        FeatureSpec.infer(_table(), target="churn", ignore=["nope"])
