"""Issue 18: streamed and Dask training against the in-memory fit, the read floor, scikit-learn, dask-ml
and Spark MLlib, side by side on the same synthetic Parquet data and machine.

    .venv/bin/python benchmarks/scale.py [--rows 1000000,4000000] [--repeats 3] [--skip spark,daskml]

Data: generated here (30 numeric columns, 10 categorical of 8 levels, a logistic target), written as
Parquet files of 500k rows in row groups of 125k, under benchmarks/.scale-data/ (reused when present).
All fits minimise sum_i logloss_i + ||beta||^2 / (2C) with C = 1 (Spark: regParam = 1 / (C n), its loss
being the mean) on the same design: oddsline's fitted features, which the others receive as a matrix.
Reported per size: the read floor (read and decode every batch, nothing else), a streamed pass (one
Newton pass on the local engine), the streamed fit (local and Dask engines, passes included), the
in-memory oddsline fit (read + features + solve), and the peers' fits on the in-memory design.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import oddsline
from harness import machine, versions
from oddsline.distributed import DaskEngine, LocalEngine, train_streamed
from oddsline.distributed.job import Job, row_batches
from oddsline.distributed.kernel import newton_partition
from oddsline.sources import open_source

HERE = Path(__file__).resolve().parent
DATA = HERE / ".scale-data"
FILE_ROWS = 500_000
N_NUMERIC, N_CATEGORICAL, LEVELS = 30, 10, 8
SPEC = oddsline.FeatureSpec.from_dict(
    {
        "columns": [{"name": f"x{j}", "kind": "numeric"} for j in range(N_NUMERIC)]
        + [{"name": f"c{j}", "kind": "categorical"} for j in range(N_CATEGORICAL)]
    }
)


def dataset(rows: int) -> Path:
    folder = DATA / f"rows_{rows}"
    if folder.exists():
        return folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    beta = rng.normal(scale=0.3, size=N_NUMERIC)
    effects = rng.normal(scale=0.5, size=(N_CATEGORICAL, LEVELS))
    for i, start in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - start)
        X = rng.normal(size=(n, N_NUMERIC))
        codes = rng.integers(0, LEVELS, size=(n, N_CATEGORICAL))
        eta = X @ beta + effects[np.arange(N_CATEGORICAL), codes].sum(axis=1) - 1.0
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int8)
        columns: dict[str, Any] = {f"x{j}": X[:, j] for j in range(N_NUMERIC)}
        levels = np.array([f"L{k}" for k in range(LEVELS)])
        columns |= {f"c{j}": pa.array(levels[codes[:, j]]).dictionary_encode() for j in range(N_CATEGORICAL)}
        columns["y"] = y
        pq.write_table(pa.table(columns), folder / f"part{i:03d}.parquet", row_group_size=125_000)
    return folder


def timed(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def read_floor(folder: Path, spec: oddsline.FeatureSpec = SPEC, target: str = "y") -> float:
    source = open_source(folder)
    job = Job(source, spec, target)
    engine = LocalEngine()

    def read(partition: Any, job: Job) -> int:
        return sum(b.table.num_rows for b in row_batches(partition, job))

    t0 = time.perf_counter()
    engine.map(read, source.partitions(), job)
    return time.perf_counter() - t0


def one_pass(folder: Path, model: oddsline.Model, spec: oddsline.FeatureSpec = SPEC, target: str = "y") -> float:
    source = open_source(folder)
    job = Job(source, spec, target)
    theta = np.r_[model.coef, model.intercept]
    t0 = time.perf_counter()
    LocalEngine().fold(
        newton_partition, source.partitions(), job, model.features, model.target, (1.0, 1.0), theta, start=_Start()
    )
    return time.perf_counter() - t0


class _Start:
    def merge(self, other: Any) -> Any:
        return other


def in_memory(folder: Path) -> tuple[oddsline.Model, np.ndarray, np.ndarray]:
    table = pa.concat_tables(pq.read_table(p) for p in sorted(folder.glob("*.parquet")))
    model = oddsline.train(table, "y", spec=SPEC, test_size=0, allow_leaky=True)
    X = model.features.transform(table)
    y = table.column("y").to_numpy().astype(float)
    return model, X, y


def objective(X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float, C: float = 1.0) -> float:
    eta = X @ coef + intercept
    return float(np.sum(np.logaddexp(0, eta) - y * eta) + coef @ coef / (2 * C))


def sklearn_fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-8, max_iter=100).fit(X, y)
    return m.coef_[0], float(m.intercept_[0])


def daskml_fit(X: np.ndarray, y: np.ndarray, client: Any) -> tuple[np.ndarray, float]:
    import dask.array as da
    from dask_ml.linear_model import LogisticRegression

    chunks = max(1, X.shape[0] // (2 * len(client.scheduler_info()["workers"])))
    dX, dy = da.from_array(X, chunks=(chunks, X.shape[1])), da.from_array(y, chunks=chunks)
    # dask-ml's C multiplies the mean loss' penalty like scikit-learn's; its fastest smooth solver here.
    m = LogisticRegression(C=1.0, solver="newton", tol=1e-8, max_iter=100).fit(dX, dy)
    return np.asarray(m.coef_).ravel(), float(np.asarray(m.intercept_).ravel()[0])


def spark_fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(coef, intercept, seconds of the fit alone). Spark reads the same design from Parquet (written
    here, outside the timing), assembles it into vectors and caches it before the clock starts."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    design = DATA / f"design_{X.shape[0]}.parquet"
    if not design.exists():
        names = [f"f{j}" for j in range(X.shape[1])]
        pq.write_table(pa.table({**{n: X[:, j] for j, n in enumerate(names)}, "label": y}), design)
    spark = spark_session()
    raw = spark.read.parquet(str(design))
    features = [c for c in raw.columns if c != "label"]
    frame = VectorAssembler(inputCols=features, outputCol="features").transform(raw).select("label", "features")
    frame = frame.cache()
    frame.count()
    n = X.shape[0]
    # Spark minimises mean loss + regParam ||b||^2 / 2: regParam = 1 / (C n) is the same objective.
    lr = LogisticRegression(
        regParam=1.0 / n, elasticNetParam=0.0, standardization=False, tol=1e-10, maxIter=200, family="binomial"
    )
    t0 = time.perf_counter()
    m = lr.fit(frame)
    seconds = time.perf_counter() - t0
    out = np.array(m.coefficients.toArray()), float(m.intercept), seconds
    spark.stop()
    return out


def spark_session() -> Any:
    """Spark in local[2] on loopback, quiet, with room for a cached design."""
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", "14g")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="1000000,4000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", default="")
    parser.add_argument(
        "--stream-only",
        default="",
        help="sizes (e.g. 16000000) too large for the in-memory contenders: read floor, a pass and the streamed fit",
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    print(machine(), versions("numpy", "scipy", "pyarrow", "sklearn", "distributed", "dask_ml", "pyspark"))
    table: list[dict[str, str]] = []
    for rows in (int(r) for r in filter(None, args.rows.split(","))):
        row = measure(rows, args.repeats, skip)
        print(row, flush=True)
        table.append(row)
    for rows in (int(r) for r in filter(None, args.stream_only.split(","))):
        row = measure_streamed_only(rows, args.repeats)
        print(row, flush=True)
        table.append(row)
    keys = list(dict.fromkeys(k for row in table for k in row))
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in table:
        print("| " + " | ".join(row.get(k, "") for k in keys) + " |")


def measure_streamed_only(rows: int, repeats: int) -> dict[str, str]:
    folder = dataset(rows)
    floor = statistics.median(read_floor(folder) for _ in range(repeats))
    source = open_source(folder)
    t_local, streamed = timed(
        lambda: train_streamed(source, "y", engine=LocalEngine(), spec=SPEC, test_size=0, allow_leaky=True),
        repeats,
    )
    pass_time = statistics.median(one_pass(folder, streamed) for _ in range(repeats))
    return {
        "rows": f"{rows:,}",
        "read floor s": f"{floor:.2f}",
        "one pass s": f"{pass_time:.2f} ({pass_time / floor:.2f}x floor)",
        "streamed local s": f"{t_local:.2f} ({streamed.info['fit']['passes']} passes)",
    }


def measure(rows: int, repeats: int, skip: set[str]) -> dict[str, str]:
    folder = dataset(rows)
    floor = statistics.median(read_floor(folder) for _ in range(repeats))
    t_mem, (model, X, y) = timed(lambda: in_memory(folder), repeats)
    f_ref = objective(X, y, model.coef, model.intercept)
    pass_time = statistics.median(one_pass(folder, model) for _ in range(repeats))
    source = open_source(folder)
    t_local, streamed = timed(
        lambda: train_streamed(source, "y", engine=LocalEngine(), spec=SPEC, test_size=0, allow_leaky=True),
        repeats,
    )
    rel = float(np.max(np.abs(streamed.coef - model.coef)) / np.max(np.abs(model.coef)))
    row = {
        "rows": f"{rows:,}",
        "read floor s": f"{floor:.2f}",
        "one pass s": f"{pass_time:.2f} ({pass_time / floor:.2f}x floor)",
        "in-memory s": f"{t_mem:.2f}",
        "streamed local s": f"{t_local:.2f} ({t_local / t_mem:.2f}x in-memory, {streamed.info['fit']['passes']} passes, coef diff {rel:.1e})",
    }
    if "dask" not in skip:
        with DaskEngine(workers=2) as engine:
            t_dask, _ = timed(
                lambda: train_streamed(source, "y", engine=engine, spec=SPEC, test_size=0, allow_leaky=True),
                repeats,
            )
            row["streamed dask s"] = f"{t_dask:.2f}"
            if "daskml" not in skip:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        t_dml, (c, b) = timed(lambda: daskml_fit(X, y, engine.client), 1)
                    gap = (objective(X, y, c, b) - f_ref) / abs(f_ref)
                    row["dask-ml s"] = f"{t_dml:.2f} (objective +{gap:.1e}; {t_dml / t_dask:.1f}x oddsline dask)"
                except Exception as exc:  # reported, not hidden
                    row["dask-ml s"] = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
    t_sk, (c, b) = timed(lambda: sklearn_fit(X, y), 1)
    row["sklearn newton-cholesky s"] = (
        f"{t_sk:.2f} (fit only; objective +{(objective(X, y, c, b) - f_ref) / abs(f_ref):.1e})"
    )
    if "spark" not in skip:
        try:
            c, b, t_spark = spark_fit(X, y)
            gap = (objective(X, y, c, b) - f_ref) / abs(f_ref)
            row["spark local[2] s"] = (
                f"{t_spark:.2f} (fit only, cached; objective +{gap:.1e}; {t_spark / t_local:.1f}x oddsline local)"
            )
        except Exception as exc:
            row["spark local[2] s"] = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
    return row


if __name__ == "__main__":
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # type: ignore[attr-defined]
    main()
