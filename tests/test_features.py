"""Feature encoders against independent computations (numpy, pandas, scikit-learn), schema enforcement,
and the spec's declared form (YAML/JSON)."""

from __future__ import annotations

import datetime as dt
import json
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.special import expit

from oddsline import FeatureSpec, SchemaError
from oddsline.features import FittedFeatures, TransformReport


def _table():
    return pa.table(
        {
            "tenure": [1.0, 2.0, None, 4.0, 10.0],
            "contract": ["Month", "Year", "Month", None, "Two year"],
            "paperless": [True, False, True, True, False],
            "churn": ["Yes", "No", "No", "Yes", "No"],
        }
    )


def _spec(*columns, strict=False):
    return FeatureSpec.from_dict({"columns": list(columns), "strict": strict})


def test_inferred_kinds_reasons_and_design_names():
    spec = FeatureSpec.infer(_table(), target="churn")
    assert [(c.name, c.kind) for c in spec.columns] == [
        ("tenure", "numeric"),
        ("contract", "categorical"),
        ("paperless", "boolean"),
    ]
    assert all(c.reason for c in spec.columns)
    fitted = spec.fit(_table())
    assert fitted.design_names == [
        "tenure",
        "tenure=<missing>",  # training had a missing tenure: it gets its own indicator
        "contract=<missing>",
        "contract=Month",
        "contract=Two year",
        "contract=Year",
        "paperless",
    ]


def test_numeric_median_imputation_indicator_and_standardisation_match_numpy():
    fitted = FeatureSpec.infer(_table(), target="churn").fit(_table())
    X = fitted.transform(_table())
    raw = np.array([1.0, 2.0, 3.0, 4.0, 10.0])  # median of 1, 2, 4, 10 is 3
    np.testing.assert_allclose(X[:, 0], (raw - raw.mean()) / raw.std())
    np.testing.assert_array_equal(X[:, 1], [0, 0, 1, 0, 0])


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"impute": "mean", "scale": "none"}, lambda v, f: np.where(np.isnan(v), np.nanmean(v), v)),
        ({"impute": "constant", "fill_value": -1, "scale": "none"}, lambda v, f: np.where(np.isnan(v), -1.0, v)),
        (
            {"scale": "robust"},
            lambda v, f: (f - np.quantile(f, 0.5)) / (np.quantile(f, 0.75) - np.quantile(f, 0.25)),
        ),
        ({"log1p": True, "scale": "none"}, lambda v, f: np.log1p(f)),
        ({"clip": [0.1, 0.9], "scale": "none"}, lambda v, f: np.clip(f, *np.quantile(f, [0.1, 0.9]))),
    ],
)
def test_numeric_options_match_numpy(options, expected):
    rng = np.random.default_rng(0)
    v = rng.lognormal(size=200)
    v[::17] = np.nan
    filled = np.where(np.isnan(v), np.nanmedian(v), v)
    table = pa.table({"x": v})
    fitted = _spec({"name": "x", "kind": "numeric", "indicator": False, **options}).fit(table)
    np.testing.assert_allclose(fitted.transform(table)[:, 0], expected(v, filled), rtol=1e-12)


def test_quantile_bins_one_hot_matches_pandas_qcut():
    v = np.random.default_rng(1).normal(size=400)
    table = pa.table({"x": v})
    X = _spec({"name": "x", "kind": "numeric", "bins": 4}).fit(table).transform(table)
    assert X.shape == (400, 4)
    np.testing.assert_array_equal(X.sum(axis=1), 1.0)
    codes = pd.qcut(v, 4, labels=False)
    np.testing.assert_array_equal(X.argmax(axis=1), codes)


def test_out_of_range_is_counted_clipped_or_refused():
    train = pa.table({"x": [0.0, 1.0, 2.0]})
    new = pa.table({"x": [-5.0, 1.0, 9.0]})
    report = TransformReport()
    counted = _spec({"name": "x", "kind": "numeric", "scale": "none", "out_of_range": "count"}).fit(train)
    np.testing.assert_array_equal(counted.transform(new, report)[:, 0], [-5.0, 1.0, 9.0])
    assert report.counts["out_of_range"] == {"x": 2}
    clipped = _spec({"name": "x", "kind": "numeric", "scale": "none"}).fit(train)  # clip is the default
    clipped_report = TransformReport()
    np.testing.assert_array_equal(clipped.transform(new, clipped_report)[:, 0], [0.0, 1.0, 2.0])
    assert clipped_report.counts["out_of_range"] == {"x": 2}
    row_report = TransformReport()
    assert clipped.encode_row({"x": -5.0}, row_report) == [(0, 0.0)]
    assert row_report.counts["out_of_range"] == {"x": 1}
    passed = _spec({"name": "x", "kind": "passthrough"}).fit(train)  # the number as it is
    np.testing.assert_array_equal(passed.transform(new)[:, 0], [-5.0, 1.0, 9.0])
    strict = _spec({"name": "x", "kind": "numeric", "out_of_range": "error"}).fit(train)
    with pytest.raises(SchemaError, match=r"column 'x': value -5.0 is outside the training range"):
        strict.transform(new)


def test_one_hot_unknown_and_rare_buckets_are_counted():
    train = pa.table({"c": ["a"] * 5 + ["b"] * 5 + ["r1", "r2"]})
    fitted = _spec({"name": "c", "kind": "categorical", "min_frequency": 2}).fit(train)
    assert fitted.design_names == ["c=a", "c=b", "c=<rare>"]
    report = TransformReport()
    X = fitted.transform(pa.table({"c": ["a", "r2", "zzz", None]}), report)
    np.testing.assert_array_equal(X, [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert report.counts["unseen"] == {"c": 2} and report.counts["rare"] == {"c": 1}
    refusing = _spec({"name": "c", "kind": "categorical", "unseen": "error"}).fit(train)
    with pytest.raises(SchemaError, match="column 'c': 'zzz' was not seen in training"):
        refusing.transform(pa.table({"c": ["zzz"]}))


def test_boolean_spellings_missing_and_bad_values():
    train = pa.table({"b": ["yes", "no", "Yes", None]})
    fitted = _spec({"name": "b", "kind": "boolean"}).fit(train)
    assert fitted.design_names == ["b", "b=<missing>"]
    np.testing.assert_array_equal(fitted.transform(train), [[1, 0], [0, 0], [1, 0], [0, 1]])
    with pytest.raises(SchemaError, match="column 'b' is boolean but holds 'maybe'"):
        fitted.transform(pa.table({"b": ["maybe"]}))


def test_target_encoding_matches_sklearn_and_never_sees_its_own_label():
    from sklearn.preprocessing import TargetEncoder

    rng = np.random.default_rng(0)
    n = 3000
    # 600 levels of pure noise: each level's own rows predict their own labels in-sample only.
    levels = rng.integers(0, 600, size=n).astype(str)
    y = (rng.uniform(size=n) < 0.3).astype(float)
    table = pa.table({"z": levels})
    features, X_train = _spec({"name": "z", "kind": "target", "smoothing": 10.0}).fit_transform(table, y)
    encoder = features.columns[0]
    reference = TargetEncoder(smooth=10.0, target_type="binary").fit(levels.reshape(-1, 1), y)
    ours = {level: expit(v) for level, v in zip(encoder.levels, encoder.encodings, strict=True)}
    theirs = dict(zip(reference.categories_[0], reference.encodings_[0], strict=True))
    np.testing.assert_allclose([ours[k] for k in theirs], list(theirs.values()), rtol=1e-12)
    in_sample = features.transform(table)[:, 0]
    assert np.corrcoef(in_sample, y)[0, 1] > 0.3  # the leak cross-fitting prevents
    assert abs(np.corrcoef(X_train[:, 0], y)[0, 1]) < 0.08  # out-of-fold: noise stays noise
    report = TransformReport()
    unseen = features.transform(pa.table({"z": ["never"]}), report)
    assert unseen[0, 0] == pytest.approx(np.log(y.mean() / (1 - y.mean())))
    assert report.counts["unseen"] == {"z": 1}
    with pytest.raises(SchemaError, match="target-encoded: fitting it needs the labels"):
        _spec({"name": "z", "kind": "target"}).fit(table)


def test_hashing_is_crc32_signed_and_stable():
    fitted = _spec({"name": "h", "kind": "hashed", "bits": 4}).fit(pa.table({"h": ["x"]}))
    X = fitted.transform(pa.table({"h": ["alpha", "beta", None]}))
    assert X.shape == (3, 16)
    for row, level in zip(X, ["alpha", "beta", "<missing>"], strict=True):
        h = zlib.crc32(level.encode())
        expected = np.zeros(16)
        expected[h & 15] = -1.0 if h >> 31 else 1.0
        np.testing.assert_array_equal(row, expected)


def test_datetime_parts_and_age_match_pandas():
    stamps = pd.to_datetime(["2024-01-01 05:30", "2024-03-15 17:00", "2024-07-04 23:59", None])
    table = pa.table({"t": pa.array([*stamps[:3].to_pydatetime().tolist(), None], pa.timestamp("us"))})
    fitted = _spec({"name": "t", "kind": "datetime", "reference": "2024-12-31T00:00:00"}).fit(table)
    X = fitted.transform(table)
    names = fitted.design_names
    for i, stamp in enumerate(stamps[:3]):
        assert X[i, names.index(f"t.hour={stamp.hour}")] == 1
        assert X[i, names.index(f"t.day_of_week={stamp.day_of_week}")] == 1
        assert X[i, names.index(f"t.month={stamp.month}")] == 1
    ages = (pd.Timestamp("2024-12-31") - stamps[:3]) / pd.Timedelta(days=1)
    column = fitted.columns[0]
    np.testing.assert_allclose(X[:3, names.index("t.age_days")] * column.scale + column.center, ages, rtol=1e-12)
    assert X[3, names.index("t=<missing>")] == 1


def test_interactions_numeric_product_and_hashed_cross():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=50), rng.normal(size=50) * 3 + 1
    table = pa.table({"a": a, "b": b, "c": rng.choice(["x", "y"], 50), "d": rng.choice(["u", "v"], 50)})
    spec = _spec(
        {"name": "a", "kind": "numeric"},
        {"name": "b", "kind": "numeric"},
        {"name": "c", "kind": "categorical"},
        {"name": "d", "kind": "categorical"},
        {"kind": "interaction", "columns": ["a", "b"]},
        {"kind": "interaction", "columns": ["c", "d"], "bits": 3},
    )
    fitted = spec.fit(table)
    X = fitted.transform(table)
    product = X[:, fitted.design_names.index("a*b")]
    np.testing.assert_allclose(product, ((a - a.mean()) / a.std()) * ((b - b.mean()) / b.std()), rtol=1e-12)
    crossed = X[:, fitted.design_names.index("c*d#0") :]
    assert crossed.shape[1] == 8 and np.all(np.abs(crossed).sum(axis=1) == 1)
    with pytest.raises(SchemaError, match="both columns must be numeric, or both categorical"):
        _spec(
            {"name": "a", "kind": "numeric"},
            {"name": "c", "kind": "categorical"},
            {"kind": "interaction", "columns": ["a", "c"]},
        ).fit(table)


def test_every_kind_round_trips_through_json():
    rng = np.random.default_rng(3)
    n = 200
    table = pa.table(
        {
            "x": rng.normal(size=n),
            "c": rng.choice(["a", "b", "c"], n),
            "b": rng.choice([True, False], n),
            "t": pa.array([dt.datetime(2024, 1, 1) + dt.timedelta(hours=int(h)) for h in rng.integers(0, 5000, n)]),
            "z": rng.choice([f"z{i}" for i in range(80)], n),
            "h": rng.choice(["p", "q"], n),
        }
    )
    y = rng.integers(0, 2, n).astype(float)
    spec = _spec(
        {"name": "x", "kind": "numeric", "clip": [0.05, 0.95]},
        {"name": "c", "kind": "categorical"},
        {"name": "b", "kind": "boolean"},
        {"name": "t", "kind": "datetime"},
        {"name": "z", "kind": "target"},
        {"name": "h", "kind": "hashed", "bits": 2},
        {"kind": "interaction", "columns": ["c", "h"]},
    )
    fitted = spec.fit(table, y)
    again = FittedFeatures.from_dict(json.loads(json.dumps(fitted.to_dict(), allow_nan=False)))
    np.testing.assert_array_equal(again.transform(table), fitted.transform(table))
    assert again.design_names == fitted.design_names


def test_schema_errors_name_the_column_and_unexpected_columns_are_counted():
    fitted = FeatureSpec.infer(_table(), target="churn").fit(_table())
    with pytest.raises(SchemaError, match="lacks column.*'contract'"):
        fitted.transform(_table().drop(["contract"]))
    wrong = _table().set_column(0, "tenure", pa.array(["a", "b", "c", "d", "e"]))
    with pytest.raises(SchemaError, match="column 'tenure' must be numeric"):
        fitted.transform(wrong)
    report = TransformReport()
    fitted.transform(_table(), report)
    assert report.counts["unexpected_column"] == {"churn": 5}
    strict = FeatureSpec(FeatureSpec.infer(_table(), target="churn").columns, strict=True).fit(_table())
    with pytest.raises(SchemaError, match="'churn' the model does not use"):
        strict.transform(_table())
    with pytest.raises(SchemaError, match="empty in every row"):
        FeatureSpec.infer(pa.table({"blank": pa.nulls(2), "y": [0, 1]}), target="y")
    with pytest.raises(SchemaError, match="cannot ignore 'nope'"):
        FeatureSpec.infer(_table(), target="churn", ignore=["nope"])
    ids = pa.table({"id": [f"u{i}" for i in range(100)], "y": [0, 1] * 50})
    with pytest.raises(SchemaError, match="no feature columns are left.*id: identifier"):
        FeatureSpec.infer(ids, target="y")
    with_ids = ids.append_column("x", pa.array(np.arange(100.0)))
    assert dict(FeatureSpec.infer(with_ids, target="y").ignored) == {
        "id": "identifier: 100 distinct values in 100 rows cannot generalise to new rows"
    }


def test_features_are_learned_from_the_fitting_rows_only():
    table = _table()
    fitted = FeatureSpec.infer(table, target="churn").fit(table.slice(0, 2))
    assert fitted.design_names[1:3] == ["contract=Month", "contract=Year"]
    assert fitted.columns[0].center == pytest.approx(1.5)


def test_spec_files_yaml_and_json_and_their_errors(tmp_path):
    spec = FeatureSpec.infer(_table(), target="churn")
    path = tmp_path / "spec.yaml"
    path.write_text(spec.to_yaml())
    assert "# text with 4 levels: one-hot" in path.read_text()
    assert FeatureSpec.load(path).to_dict() == spec.to_dict()
    (tmp_path / "spec.json").write_text(json.dumps(spec.to_dict()))
    assert FeatureSpec.load(tmp_path / "spec.json").to_dict() == spec.to_dict()
    with pytest.raises(SchemaError, match=r"column 'x' \(numeric\): unknown option\(s\) \['scaling'\]"):
        _spec({"name": "x", "kind": "numeric", "scaling": "robust"})
    with pytest.raises(SchemaError, match="scale must be one of"):
        _spec({"name": "x", "kind": "numeric", "scale": "minmax"})
    with pytest.raises(SchemaError, match="kind must be one of"):
        _spec({"name": "x", "kind": "text"})
    (tmp_path / "bad.yaml").write_text("columns: [\n")
    with pytest.raises(SchemaError, match="bad.yaml is not a valid spec file"):
        FeatureSpec.load(tmp_path / "bad.yaml")


def test_huge_and_infinite_numbers():
    """Numbers near 1e300 standardise without overflow; an infinite training value is refused by name."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    fitted = FeatureSpec.infer(pa.table({"big": x * 1e300})).fit(pa.table({"big": x * 1e300}))
    design = fitted.transform(pa.table({"big": x * 1e300}))
    np.testing.assert_allclose(design[:, 0], (x - x.mean()) / x.std(), atol=1e-9)
    with pytest.raises(SchemaError, match="column 'v' holds infinite values in 2 training row"):
        FeatureSpec.infer(pa.table({"v": [1.0, np.inf, -np.inf, 2.0]})).fit(
            pa.table({"v": [1.0, np.inf, -np.inf, 2.0]})
        )


def test_a_stored_pandas_index_that_is_unique_is_left_out_as_an_identifier(tmp_path):
    pd = pytest.importorskip("pandas")
    import oddsline

    frame = pd.DataFrame({"x": np.arange(60.0) % 7, "y": [0, 1] * 30})
    frame = frame[frame.x > 0]
    frame.index.name = "pid"
    frame.to_parquet(tmp_path / "named.parquet")
    for table in (oddsline.read_table(tmp_path / "named.parquet"), oddsline.io.to_arrow(frame)):
        spec = FeatureSpec.infer(table, target="y")
        assert dict(spec.ignored) == {"pid": "identifier: the pandas index of the file, one value per row"}
    counts = FeatureSpec.infer(pa.table({"smoking_yes_cancer_no": [3, 5, 7, 9, 11] * 4, "y": [0, 1] * 10}), target="y")
    assert counts.columns[0].kind == "numeric"  # a count named *_no is not an identifier


def test_a_datetime_part_with_one_training_value_is_not_a_design_column():
    """Dates carry no hour: an `hour=0` column would be 1 in every row, the intercept again."""
    dates = pa.table({"d": [f"2021-03-{day:02d}" for day in range(1, 29)] * 2})
    names = FeatureSpec.infer(dates).fit(dates).design_names
    assert not any(n.startswith("d.hour") or n.startswith("d.month") for n in names)
    assert "d.day_of_week=0" in names and "d.age_days" in names


def test_a_datetime_column_of_other_dates_says_how_to_write_them():
    """Arrow's second attempt (with a zone) used to speak: "expected a zone offset ... call
    assume_timezone", about 03/15/2019."""
    table = pa.table({"d": ["03/15/2019", "04/16/2019"] * 30})
    spec = FeatureSpec.from_dict({"columns": [{"name": "d", "kind": "datetime"}]})
    with pytest.raises(
        SchemaError, match="'04/16/2019' as a scalar of type timestamp.*write dates as YYYY-MM-DD"
    ) as raised:
        spec.fit(table)
    assert "zone" not in str(raised.value)
