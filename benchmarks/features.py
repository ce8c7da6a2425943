"""Features benchmark (issue 5): one row from a dict to a probability, and a 327k-row table transform.

    .venv/bin/python benchmarks/features.py [--calls 20000]

Single row: the telco churn model (examples/data, inferred spec: 6 booleans, 3 numerics, 10
categoricals) scored by ``Model.predict_one(dict)`` beside a scikit-learn
``Pipeline(ColumnTransformer(SimpleImputer+StandardScaler, OneHotEncoder), LogisticRegression)`` fed a
one-row DataFrame and fed a one-row numpy object array (the same pipeline with positional columns).
Latencies are per call, p50 and p99 over many calls after a warm-up.

Table: the flights design of the engine benchmark from raw columns (6 categoricals, 3 numerics) with
an already fitted encoder: oddsline ``FittedFeatures.transform`` on an Arrow table beside the
equivalent scikit-learn ColumnTransformer on a pandas DataFrame; median of several runs; peak memory
(numpy allocations via tracemalloc plus Arrow's pool) relative to the output matrix.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

import oddsline
from harness import SHARED, machine, versions

ROOT = Path(__file__).resolve().parents[1]


def percentiles(seconds: list[float]) -> tuple[float, float]:
    us = np.array(seconds) * 1e6
    return float(np.percentile(us, 50)), float(np.percentile(us, 99))


def time_calls(call, rows: list, calls: int) -> list[float]:
    for row in rows[:50]:
        call(row)
    out = []
    for i in range(calls):
        row = rows[i % len(rows)]
        t0 = time.perf_counter()
        call(row)
        out.append(time.perf_counter() - t0)
    return out


def single_row(calls: int) -> list[str]:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    table = oddsline.read_table(ROOT / "examples" / "data" / "telco_churn.csv")
    model = oddsline.train(table, target="churn", positive="Yes")
    features = table.drop(["churn"])
    rows = features.slice(0, 2000).to_pylist()
    frame = features.to_pandas()
    y = (table.column("churn").to_numpy(zero_copy_only=False) == "Yes").astype(int)
    kinds = {c.name: c.kind for c in model.features.columns}
    numeric = [n for n, k in kinds.items() if k in ("numeric", "boolean")]
    categorical = [n for n, k in kinds.items() if k == "categorical"]

    def pipeline(num, cat) -> Pipeline:
        encode = ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
                ("cat", OneHotEncoder(handle_unknown="ignore"), cat),
            ]
        )
        return Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=1000))])

    by_name = pipeline(numeric, categorical).fit(frame, y)
    positions = {name: i for i, name in enumerate(frame.columns)}
    by_position = pipeline([positions[n] for n in numeric], [positions[n] for n in categorical])
    objects = frame.to_numpy(dtype=object)
    by_position.fit(objects, y)
    frames = [frame.iloc[[i]] for i in range(200)]
    arrays = [objects[i : i + 1] for i in range(2000)]

    ours = percentiles(time_calls(model.predict_one, rows, calls))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = percentiles(time_calls(lambda f: by_name.predict_proba(f)[0, 1], frames, max(calls // 40, 200)))
        npy = percentiles(time_calls(lambda a: by_position.predict_proba(a)[0, 1], arrays, max(calls // 20, 500)))
    lines = [
        "#### One row, dict to probability: telco churn model, "
        f"{len(model.features.source_columns)} source columns -> {model.features.n_design} design columns",
        "",
        "| contender | p50 us | p99 us | p50 / oddsline |",
        "|---|---|---|---|",
        f"| oddsline Model.predict_one(dict) | {ours[0]:.1f} | {ours[1]:.1f} | 1.0x |",
        f"| sklearn Pipeline, 1-row DataFrame | {df[0]:.0f} | {df[1]:.0f} | {df[0] / ours[0]:.0f}x |",
        f"| sklearn Pipeline, 1-row numpy object array | {npy[0]:.0f} | {npy[1]:.0f} | {npy[0] / ours[0]:.0f}x |",
        "",
    ]
    try:
        import onnxruntime
    except ImportError:
        lines.append("onnxruntime: not installed here, not measured.\n")
        return lines
    import tempfile

    from oddsline.export import export_onnx

    with tempfile.TemporaryDirectory() as folder:
        session = onnxruntime.InferenceSession(str(export_onnx(model, Path(folder) / "telco.onnx")))
    kinds = {c.name: c.kind for c in model.features.columns}

    def feeds(row: dict) -> dict:  # prepared ahead: only the session's run is timed
        return {
            name: np.array([["" if row[name] is None else str(row[name])]], dtype=object)
            if kind == "categorical"
            else np.array([[np.nan if row[name] is None else float(row[name])]], dtype=np.float32)
            for name, kind in kinds.items()
        }

    prepared = [feeds(row) for row in rows]
    onnx_times = percentiles(time_calls(lambda f: session.run(None, f), prepared, calls))
    lines[-1:-1] = [
        f"| onnxruntime {onnxruntime.__version__} on the exported model (inputs prepared, run only) | "
        f"{onnx_times[0]:.1f} | {onnx_times[1]:.1f} | {onnx_times[0] / ours[0]:.1f}x |"
    ]
    return lines


def flights_table() -> tuple[pa.Table, list[str], list[str]]:
    df = pd.read_parquet(SHARED / "nyc_flights_2013.parquet")
    df = df[df["arr_delay"].notna()].reset_index(drop=True)
    weekday = pd.to_datetime(df[["year", "month", "day"]]).dt.day_of_week
    cats = ["carrier", "origin", "dest", "month", "hour", "weekday"]
    nums = ["distance", "sched_dep_time", "sched_arr_time"]
    frame = pd.DataFrame({c: df[c].astype(str) for c in cats[:-1]} | {"weekday": weekday.astype(str)})
    for c in nums:
        frame[c] = df[c].astype(float)
    return pa.Table.from_pandas(frame, preserve_index=False), cats, nums


def table_transform(repeats: int) -> list[str]:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    table, cats, nums = flights_table()
    frame = table.to_pandas()
    spec = oddsline.FeatureSpec.from_dict(
        {"columns": [{"name": c, "kind": "categorical"} for c in cats] + [{"name": c, "kind": "numeric"} for c in nums]}
    )
    fitted = spec.fit(table)
    reference = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cats),
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
        ]
    ).fit(frame)
    ours_s, theirs_s = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        X = fitted.transform(table)
        ours_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        R = reference.transform(frame)
        theirs_s.append(time.perf_counter() - t0)
    same = X.shape == R.shape and np.allclose(np.sort(X.sum(axis=0)), np.sort(R.sum(axis=0)))
    pool = pa.default_memory_pool()
    del X, R
    tracemalloc.start()
    before = pool.bytes_allocated()
    X = fitted.transform(table)
    _, numpy_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrow_peak = max(pool.max_memory() - before, 0)
    ratio = statistics.median(ours_s) / statistics.median(theirs_s)
    return [
        f"#### Table transform: flights {table.num_rows:,} rows -> {X.shape[1]} design columns (fitted encoder), median of {repeats}",
        "",
        "| contender | median s |",
        "|---|---|",
        f"| oddsline FittedFeatures.transform (Arrow table) | {statistics.median(ours_s):.3f} |",
        f"| sklearn ColumnTransformer.transform (pandas) | {statistics.median(theirs_s):.3f} |",
        "",
        f"oddsline / sklearn = {ratio:.2f}x (goal <= 0.5x). Same design up to column order: {same}. "
        f"Peak memory during the oddsline transform: numpy {numpy_peak / X.nbytes:.2f}x the {X.nbytes / 1e6:.0f} MB "
        f"output (Arrow pool high-water mark {arrow_peak / 1e6:.0f} MB, process-wide).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    out = [f"Machine: {machine()}", "", f"Versions: {versions('oddsline', 'sklearn', 'pyarrow')}", ""]
    out += single_row(args.calls)
    out += table_transform(args.repeats)
    print("\n".join(out))


if __name__ == "__main__":
    main()
