"""A streamed fit equals the in-memory fit on the same rows: features, coefficients at the optimum (1e-9
relative) in no more iterations, for every partitioning; on real data (the bundled telco churn table)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import oddsline
from oddsline.core.objective import Problem
from oddsline.core.solvers import fit_newton
from oddsline.distributed import LocalEngine, train_streamed
from oddsline.distributed.kernel import encode_labels
from oddsline.sources import open_source

SPEC = oddsline.FeatureSpec.from_dict(
    {
        "columns": [
            {"name": "tenure", "kind": "numeric", "clip": [0.05, 0.95]},
            {"name": "monthly_charges", "kind": "numeric", "scale": "robust"},
            {"name": "total_charges", "kind": "numeric", "log1p": True},
            {"name": "senior_citizen", "kind": "boolean"},
            {"name": "partner", "kind": "boolean"},
            {"name": "contract", "kind": "categorical"},
            {"name": "payment_method", "kind": "categorical", "min_frequency": 1000},
            {"name": "internet_service", "kind": "categorical"},
            {"name": "tech_support", "kind": "hashed", "bits": 3},
            {"name": "total_charges", "kind": "numeric", "bins": 5, "impute": "mean"},
        ]
    }
)


def _write_parts(table: pa.Table, folder: Path, bounds: list[int], fmt: str = "parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(len(bounds) - 1):
        part = table.slice(bounds[i], bounds[i + 1] - bounds[i])
        if fmt == "parquet":
            pq.write_table(part, folder / f"part{i:02d}.parquet", row_group_size=900)
        else:
            pacsv.write_csv(part, folder / f"part{i:02d}.csv")
    return folder


def _spec_without_duplicates() -> oddsline.FeatureSpec:
    seen, columns = set(), []
    for c in SPEC.columns:  # one spec column per source column (a FittedFeatures needs unique names)
        if c.name not in seen:
            seen.add(c.name)
            columns.append(c)
    return oddsline.FeatureSpec(tuple(columns))


def _assert_same_fit(streamed: oddsline.Model, memory: oddsline.Model, table: pa.Table) -> None:
    """The same features, and coefficients at the same optimum. The streamed fit takes a fresh Newton step
    at every pass (its Hessian comes with the gradient) while the in-memory one reuses its factor, so
    their paths differ and each stops where its own last step left max |gradient| below tol. The
    reference is the exact optimum (polished in memory to 1e-13); the streamed fit, run at tol 1e-12,
    is within 1e-9 of it."""
    for a, b in zip(streamed.features.columns, memory.features.columns, strict=True):
        da, db = a.to_dict(), b.to_dict()
        assert da.keys() == db.keys()
        for key in da:
            if isinstance(da[key], float) and isinstance(db[key], float):
                assert da[key] == pytest.approx(db[key], rel=1e-12, abs=1e-12), (a.name, key)
            else:
                assert da[key] == db[key], (a.name, key)
    exact = _exact_optimum(memory, table)
    theta_s, theta_m = np.r_[streamed.coef, streamed.intercept], np.r_[memory.coef, memory.intercept]
    np.testing.assert_allclose(theta_s, exact, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(theta_m, exact, rtol=1e-4, atol=1e-6)  # the in-memory fit's own stopping error
    assert streamed.info["fit"]["converged"]


def _exact_optimum(model: oddsline.Model, table: pa.Table) -> np.ndarray:
    """[coef..., intercept] minimising the model's objective on its own design, to max |gradient| 1e-13
    (aliased columns, held at zero by an unpenalised fit, left out)."""
    X = np.asarray(model.features.transform(table))
    y = encode_labels(model.target, table.column(model.target.name))
    C = math.inf if model.params["C"] == "inf" else float(model.params["C"])
    keep = np.flatnonzero(model.coef != 0)
    problem = Problem(np.ascontiguousarray(X[:, keep]), y, np.ones(y.size), C=C)
    result = fit_newton(problem, np.r_[model.coef[keep], model.intercept], tol=1e-13, max_iter=50)
    assert result.converged
    theta = np.zeros(model.coef.size + 1)
    theta[keep], theta[-1] = result.theta[:-1], result.theta[-1]
    return theta


@pytest.fixture(scope="module")
def telco(telco_table: pa.Table) -> pa.Table:
    # Missing values in a numeric column (total_charges has 11) and a second one made here.
    tenure = telco_table.column("tenure").to_numpy().astype(float)
    tenure[::97] = np.nan
    return telco_table.set_column(telco_table.schema.get_field_index("tenure"), "tenure", pa.array(tenure))


@pytest.mark.parametrize(
    "bounds",
    [
        [0, 7043],  # one file
        [0, 3500, 7043],  # two
        [0, 1, 900, 2000, 2001, 4000, 6999, 7043],  # seven, uneven (rows of 1 and 44)
        [0, 3000, 3000, 7043],  # an empty file between two
    ],
    ids=["1", "2", "7-uneven", "with-empty"],
)
def test_streamed_fit_equals_the_in_memory_fit(telco: pa.Table, tmp_path: Path, bounds: list[int]) -> None:
    spec = _spec_without_duplicates()
    memory = oddsline.train(telco, "churn", spec=spec, test_size=0)
    source = open_source(_write_parts(telco, tmp_path / "parts", bounds), batch_rows=500)
    streamed = train_streamed(source, "churn", engine=LocalEngine(2), spec=spec, test_size=0, tol=1e-12)
    _assert_same_fit(streamed, memory, telco)
    X = telco.drop_columns(["churn"])
    # Within the in-memory fit's stopping error (the streamed fit is the tighter of the two).
    assert np.max(np.abs(streamed.predict_proba(X)[:, 1] - memory.predict_proba(X)[:, 1])) < 1e-8
    # Inference from the merged matrices: the same table of standard errors.
    inf_s, inf_m = streamed.inference(), memory.inference()
    np.testing.assert_allclose(inf_s.bse, inf_m.bse, rtol=1e-7)  # at two points 1e-8 apart
    assert inf_s.llf == pytest.approx(inf_m.llf, rel=1e-10) and inf_s.llnull == pytest.approx(inf_m.llnull, rel=1e-12)


def test_a_streamed_fit_takes_no_more_passes_than_newton_in_memory_takes_steps(telco: pa.Table, tmp_path: Path) -> None:
    spec = _spec_without_duplicates()
    memory = oddsline.train(telco, "churn", spec=spec, test_size=0)
    source = open_source(_write_parts(telco, tmp_path / "parts", [0, 3500, 7043]))
    streamed = train_streamed(source, "churn", engine=LocalEngine(2), spec=spec, test_size=0)
    fit = streamed.info["fit"]
    assert fit["converged"] and fit["grad_norm"] <= 1e-8 and fit["start"] == {"from": "intercept"}
    # Quadratic convergence: no chord steps on a reused factor, whose linear rate costs passes.
    assert fit["passes"] <= memory.info["fit"]["n_iter"] and fit["n_iter"] < memory.info["fit"]["n_iter"]


def test_unpenalised_fit_with_reference_levels_matches(telco: pa.Table, tmp_path: Path) -> None:
    spec = oddsline.FeatureSpec.from_dict(
        {
            "columns": [
                {"name": "tenure", "kind": "numeric"},
                {"name": "contract", "kind": "categorical"},
                {"name": "internet_service", "kind": "categorical", "reference": "No"},
            ]
        }
    )
    memory = oddsline.train(telco, "churn", spec=spec, test_size=0, C=math.inf)
    source = open_source(_write_parts(telco, tmp_path / "p", [0, 2500, 7043]))
    streamed = train_streamed(source, "churn", engine=LocalEngine(1), spec=spec, test_size=0, C=math.inf, tol=1e-12)
    _assert_same_fit(streamed, memory, telco)
    assert streamed.info["reference_levels"] == memory.info["reference_levels"]
    np.testing.assert_allclose(streamed.statistics["likelihood"], memory.statistics["likelihood"], rtol=1e-10)


def test_a_level_absent_from_some_files_encodes_as_in_memory(telco: pa.Table, tmp_path: Path) -> None:
    ordered = telco.sort_by("contract")  # each file holds one or two contract levels only
    spec = oddsline.FeatureSpec.from_dict(
        {"columns": [{"name": "contract", "kind": "categorical"}, {"name": "monthly_charges", "kind": "numeric"}]}
    )
    memory = oddsline.train(ordered, "churn", spec=spec, test_size=0)
    source = open_source(_write_parts(ordered, tmp_path / "sorted", [0, 2000, 4000, 7043], fmt="csv"))
    streamed = train_streamed(source, "churn", engine=LocalEngine(2), spec=spec, test_size=0, tol=1e-12)
    _assert_same_fit(streamed, memory, ordered)


def test_csv_whose_later_rows_change_type_reads_with_the_spec_types(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 3000
    amount = [str(int(v)) for v in rng.integers(0, 100, n)]  # integers in the first block ...
    for i in range(2500, n, 7):
        amount[i] = f"{rng.normal(50, 10):.3f}"  # ... then decimals
    for i in range(2600, n, 50):
        amount[i] = "NA"  # and stray null markers
    y = (rng.random(n) < 0.4).astype(int)
    lines = ["amount,region,y"] + [
        f"{a},{'north' if i % 3 else 'south'},{v}" for i, (a, v) in enumerate(zip(amount, y, strict=False))
    ]
    path = tmp_path / "shifty.csv"
    path.write_text("\n".join(lines) + "\n")
    spec = oddsline.FeatureSpec.from_dict(
        {"columns": [{"name": "amount", "kind": "numeric"}, {"name": "region", "kind": "categorical"}]}
    )
    table = oddsline.read_table(path)
    memory = oddsline.train(table, "y", spec=spec, test_size=0)
    source = open_source(path, batch_rows=256)
    source = type(source)(source.paths, 256)
    streamed = train_streamed(source, "y", engine=LocalEngine(2), spec=spec, test_size=0, tol=1e-12)
    _assert_same_fit(streamed, memory, table)


def test_a_bad_number_names_the_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(100)) + "abc,1\n")
    spec = oddsline.FeatureSpec.from_dict({"columns": [{"name": "x", "kind": "numeric"}]})
    with pytest.raises(oddsline.SchemaError, match=r"bad.csv: column 'x', data row 101: 'abc' is not a number"):
        train_streamed(open_source(path), "y", engine=LocalEngine(1), spec=spec, test_size=0)


def test_held_out_split_is_by_row_position_and_the_same_for_any_partitioning(telco: pa.Table, tmp_path: Path) -> None:
    spec = _spec_without_duplicates()
    one = open_source(_write_parts(telco, tmp_path / "one", [0, 7043]), batch_rows=1000)
    other = open_source(_write_parts(telco, tmp_path / "one", [0, 7043]), batch_rows=333)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = train_streamed(one, "churn", engine=LocalEngine(2), spec=spec, test_size=0.25)
        b = train_streamed(other, "churn", engine=LocalEngine(1), spec=spec, test_size=0.25)
    assert a.info["n_test"] == b.info["n_test"]
    assert abs(a.info["n_test"] / 7043 - 0.25) < 0.03
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10)
    assert a.info["evaluation"]["roc_auc"] == b.info["evaluation"]["roc_auc"]


def test_options_that_are_not_streamed_are_refused_by_name(telco: pa.Table, tmp_path: Path) -> None:
    source = open_source(_write_parts(telco, tmp_path / "x", [0, 7043]))
    with pytest.raises(oddsline.ParameterError, match="threshold rules need cross-fitted"):
        train_streamed(source, "churn", engine=LocalEngine(1), threshold="f1")  # type: ignore[arg-type]
    spec = oddsline.FeatureSpec.from_dict(
        {
            "columns": [
                {"name": "tenure", "kind": "numeric"},
                {"name": "monthly_charges", "kind": "numeric"},
                {"kind": "interaction", "columns": ["tenure", "monthly_charges"]},
            ]
        }
    )
    with pytest.raises(oddsline.SchemaError, match=r"\(interaction\) cannot be fitted on a streamed source"):
        train_streamed(source, "churn", engine=LocalEngine(1), spec=spec)


def test_elastic_net_streamed_equals_the_in_memory_cd_fit(telco: pa.Table, tmp_path: Path) -> None:
    spec = _spec_without_duplicates()
    source = open_source(_write_parts(telco, tmp_path / "en", [0, 2000, 7043]), batch_rows=700)
    streamed = train_streamed(
        source, "churn", engine=LocalEngine(2), spec=spec, test_size=0, C=0.05, l1_ratio=0.7, tol=1e-10
    )
    X = streamed.features.transform(telco)
    y = (np.asarray(telco.column("churn").to_pylist()) == "Yes").astype(float)
    memory = oddsline.LogisticRegression(C=0.05, l1_ratio=0.7, tol=1e-10).fit(X, y)
    assert streamed.info["fit"]["solver"] == "cd" and streamed.info["fit"]["converged"]
    zero = memory.coef_[0] == 0
    assert zero.any() and np.array_equal(streamed.coef == 0, zero)  # the same columns dropped
    np.testing.assert_allclose(streamed.coef, memory.coef_[0], rtol=1e-8, atol=1e-9)


def test_a_wide_design_is_fitted_by_lbfgs_on_streamed_gradients(telco: pa.Table, tmp_path: Path) -> None:
    spec = oddsline.FeatureSpec.from_dict(
        {
            "columns": [
                {"name": "tenure", "kind": "numeric"},
                {"name": "monthly_charges", "kind": "hashed", "bits": 11},  # 2,048 columns: no Hessian
            ]
        }
    )
    source = open_source(_write_parts(telco, tmp_path / "wide", [0, 3000, 7043]))
    streamed = train_streamed(source, "churn", engine=LocalEngine(2), spec=spec, test_size=0, C=0.5)
    assert streamed.info["fit"]["solver"] == "lbfgs" and streamed.info["fit"]["converged"]
    memory = oddsline.train(telco, "churn", spec=spec, test_size=0, C=0.5)
    # Both stop at max |gradient| <= 1e-8 on a flat objective (2,048 buckets of a few rows each): the
    # objectives agree to float64 and the coefficients to what that tolerance leaves free.
    assert streamed.info["fit"]["objective"] == pytest.approx(memory.info["fit"]["objective"], rel=1e-10)
    np.testing.assert_allclose(streamed.coef, memory.coef, rtol=1e-4, atol=1e-5)


def test_timestamps_stream_as_in_memory_on_flights(tmp_path: Path) -> None:
    flights = oddsline.read_table(Path(__file__).parents[1] / "data" / "nyc_flights_2013_all_columns_5k.parquet")
    flights = flights.filter(pa.compute.is_valid(flights.column("arr_delay")))
    late = pa.compute.greater(flights.column("arr_delay"), 15)
    flights = flights.append_column("late", late)
    stamps = flights.column("time_hour").to_pylist()
    stamps[::50] = [None] * len(stamps[::50])  # missing timestamps: imputed with the median age
    flights = flights.set_column(flights.schema.get_field_index("time_hour"), "time_hour", pa.array(stamps))
    spec = oddsline.FeatureSpec.from_dict(
        {
            "columns": [
                {"name": "time_hour", "kind": "datetime"},
                {"name": "distance", "kind": "numeric", "log1p": True},
                {"name": "carrier", "kind": "categorical", "min_frequency": 30},
            ]
        }
    )
    memory = oddsline.train(flights, "late", spec=spec, test_size=0)
    source = open_source(_write_parts(flights, tmp_path / "flights", [0, 1000, 2500, flights.num_rows]), batch_rows=400)
    streamed = train_streamed(source, "late", engine=LocalEngine(2), spec=spec, test_size=0, tol=1e-12)
    _assert_same_fit(streamed, memory, flights)


def test_target_encoding_streams_with_hash_folds(tmp_path: Path) -> None:
    from oddsline.distributed.job import Job, row_batches
    from oddsline.features.target_encoding import fit_target_encoding

    flights = oddsline.read_table(Path(__file__).parents[1] / "data" / "nyc_flights_2013_all_columns_5k.parquet")
    flights = flights.filter(pa.compute.is_valid(flights.column("arr_delay")))
    flights = flights.append_column("late", pa.compute.greater(flights.column("arr_delay"), 15))
    spec = oddsline.FeatureSpec.from_dict(
        {
            "columns": [
                {"name": "dest", "kind": "target", "smoothing": 10, "folds": 5},
                {"name": "distance", "kind": "numeric"},
            ]
        }
    )
    source = open_source(_write_parts(flights, tmp_path / "f", [0, 1700, flights.num_rows]), batch_rows=600)
    streamed = train_streamed(source, "late", engine=LocalEngine(2), spec=spec, test_size=0, C=2.0, tol=1e-12)
    y = np.asarray(flights.column("late").to_pylist(), dtype=float)
    # The encoder kept for scoring is the in-memory one: every level's smoothed log-odds over all rows.
    memory_encoder, _ = fit_target_encoding("dest", flights.column("dest"), y, dict(spec.columns[0].settings))
    encoder = streamed.features.columns[0]
    assert dict(zip(encoder.levels, encoder.encodings, strict=True)) == pytest.approx(
        dict(zip(memory_encoder.levels, memory_encoder.encodings, strict=True)), rel=1e-12
    )
    # The training design: each row encoded by the table fitted without its fold (position hash mod 5),
    # recomputed here by brute force, row by row.
    job = Job(source, spec, "late")
    hashes = np.concatenate([b.position_hash for p in source.partitions() for b in row_batches(p, job)])
    fold = (hashes % np.uint64(5)).astype(int)
    dest = np.asarray(flights.column("dest").to_pylist(), dtype=object)
    oof = np.empty(y.size)
    for k in range(5):
        rest = fold != k
        rate = y[rest].mean()
        for level in set(dest[~rest]):
            of_level = rest & (dest == level)
            p = (y[of_level].sum() + 10 * rate) / (of_level.sum() + 10)
            oof[(~rest) & (dest == level)] = np.log(p) - np.log1p(-p)
    X = streamed.features.transform(flights)
    X[:, 0] = oof
    reference = oddsline.LogisticRegression(C=2.0, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(streamed.coef, reference.coef_[0], rtol=1e-9)
    assert streamed.intercept == pytest.approx(reference.intercept_[0], rel=1e-9)


class _CountingEngine(LocalEngine):
    """One thread; counts the passes over the source (``fold`` reads through ``results``)."""

    def __init__(self) -> None:
        super().__init__(1)
        self.reads = 0

    def map(self, function, partitions, *arguments):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().map(function, partitions, *arguments)

    def results(self, function, partitions, *arguments):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().results(function, partitions, *arguments)


def test_the_median_of_a_column_no_training_row_misses_comes_with_the_first_newton_pass(
    telco: pa.Table, tmp_path: Path
) -> None:
    source = open_source(_write_parts(telco, tmp_path / "parts", [0, 3000, 7043]))
    for column, rounds in (("monthly_charges", 0), ("tenure", 1)):  # tenure has missing values
        spec = oddsline.FeatureSpec.from_dict(
            {"columns": [{"name": column, "kind": "numeric"}, {"name": "contract", "kind": "categorical"}]}
        )
        engine = _CountingEngine()
        streamed = train_streamed(source, "churn", engine=engine, spec=spec, test_size=0)
        # The summary, the median rounds, the first pass and the solver's passes.
        assert engine.reads == 1 + rounds + 1 + streamed.info["fit"]["passes"], column
        values = telco.column(column).to_numpy().astype(float)
        assert streamed.features.columns[0].fill == np.median(values[~np.isnan(values)])


def test_an_unpenalised_fit_separated_by_one_column_is_refused_as_in_memory(telco: pa.Table, tmp_path: Path) -> None:
    """The 11 rows missing total_charges all stayed: both fits refuse, naming the same column, instead
    of a streamed coefficient of -10 with a standard error of 150."""
    spec = oddsline.FeatureSpec.from_dict(
        {"columns": [{"name": "total_charges", "kind": "numeric"}, {"name": "contract", "kind": "categorical"}]}
    )
    with pytest.raises(oddsline.SeparationError) as memory:
        oddsline.train(telco, "churn", spec=spec, test_size=0, C=math.inf)
    source = open_source(_write_parts(telco, tmp_path / "parts", [0, 3000, 7043]))
    with pytest.raises(oddsline.SeparationError, match=r"'total_charges=<missing>': its rows are all 'No'") as streamed:
        train_streamed(source, "churn", engine=LocalEngine(2), spec=spec, test_size=0, C=math.inf)
    assert streamed.value.columns == memory.value.columns
    # A penalised fit of the same columns exists, and is not refused.
    assert train_streamed(source, "churn", engine=LocalEngine(2), spec=spec, test_size=0).info["fit"]["converged"]


def test_a_lasso_model_reports_its_selection_not_a_singular_matrix(telco: pa.Table, tmp_path: Path) -> None:
    """Without an L2 part the penalised Hessian of every level beside the intercept is singular: `inspect`
    crashed (exit 70, LinAlgError). An L1/elastic-net model's table has its coefficients and names the
    ones the penalty set to 0, without standard errors (they would ignore the selection)."""
    source = open_source(_write_parts(telco, tmp_path / "parts", [0, 7043]))
    spec = _spec_without_duplicates()
    for l1_ratio in (1.0, 0.5):
        model = train_streamed(
            source, "churn", engine=LocalEngine(2), spec=spec, test_size=0, C=0.01, l1_ratio=l1_ratio
        )
        result = model.inference()
        zeros = [name for name, b in zip(model.design_names, model.coef, strict=True) if b == 0]
        assert result.not_selected == zeros and zeros and not result.aliased
        assert np.isnan(result.bse).all() and "no standard errors" in result.label
        assert result.df_model == model.coef.size - len(zeros)
        assert "(not selected)" in result.summary()
