"""Issue 18 on real data: the NYC flights of 2013 replicated to about 10M rows, streamed from Parquet.

    .venv/bin/python benchmarks/scale_flights.py [--copies 30] [--repeats 1] [--skip spark,dask]

The 327k flights with an arrival delay (target: late by more than 15 minutes), each copy one Parquet
file of row groups of 100k, under benchmarks/.scale-data/ (reused when present). Features: carrier,
origin, dest, month, hour and weekday one-hot (all levels: 164 design columns with the 3 numerics), distance
and the scheduled departure and arrival times standardised; C = 1. At 10M rows the dense design is
14 GB: scikit-learn and dask-ml, which take the design as a matrix, cannot run here. Spark MLlib
(local[2]) reads the same files and builds the same design itself (StringIndexer + OneHotEncoder
with every level kept, the numerics standardised with oddsline's fitted centre and scale), so both
minimise sum_i logloss_i + ||beta||^2 / 2 (Spark: the mean, regParam = 1 / n); its final objective
is compared with oddsline's. Spark is timed on the fit alone, its input assembled and cached first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import oddsline
from harness import machine, versions
from oddsline.distributed import DaskEngine, LocalEngine, train_streamed
from oddsline.sources import open_source
from scale import DATA, one_pass, read_floor, spark_session

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
CATEGORICAL = ("carrier", "origin", "dest", "month", "hour", "weekday")
NUMERIC = ("distance", "sched_dep_time", "sched_arr_time")
SPEC = oddsline.FeatureSpec.from_dict(
    {
        "columns": [{"name": c, "kind": "categorical"} for c in CATEGORICAL]
        + [{"name": c, "kind": "numeric"} for c in NUMERIC]
    }
)


def flights() -> pa.Table:
    raw = pq.read_table(SHARED / "nyc_flights_2013.parquet")
    raw = raw.filter(pc.is_valid(raw.column("arr_delay")))
    dates = pc.strptime(
        pc.binary_join_element_wise(
            pc.cast(raw.column("year"), pa.string()),
            pc.cast(raw.column("month"), pa.string()),
            pc.cast(raw.column("day"), pa.string()),
            "-",
        ),
        format="%Y-%m-%d",
        unit="s",
    )
    columns: dict[str, Any] = {c: raw.column(c) for c in ("carrier", "origin", "dest")}
    columns |= {c: pc.cast(raw.column(c), pa.string()) for c in ("month", "hour")}
    columns["weekday"] = pc.cast(pc.day_of_week(dates), pa.string())
    columns |= {c: pc.cast(raw.column(c), pa.float64()) for c in NUMERIC}
    columns["late"] = pc.cast(pc.greater(raw.column("arr_delay"), 15.0), pa.int8())
    return pa.table(columns)


def dataset(copies: int) -> tuple[Path, int]:
    folder = DATA / f"flights_x{copies}"
    table = flights()
    if not folder.exists():
        folder.mkdir(parents=True)
        for i in range(copies):
            pq.write_table(table, folder / f"copy{i:03d}.parquet", row_group_size=100_000)
    return folder, table.num_rows * copies


def spark_fit(folder: Path, model: oddsline.Model, rows: int) -> tuple[float, float, int]:
    """(seconds of the fit alone, Spark's final objective on oddsline's normalisation, iterations)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
    from pyspark.sql import functions as F

    spark = spark_session()
    frame = spark.read.parquet(str(folder))
    fitted = {c.name: c for c, _ in model.features.blocks()}
    for name in NUMERIC:
        frame = frame.withColumn(name, (F.col(name) - fitted[name].center) / fitted[name].scale)
    indexers = [StringIndexer(inputCol=c, outputCol=f"{c}_i") for c in CATEGORICAL]
    encoder = OneHotEncoder(
        inputCols=[f"{c}_i" for c in CATEGORICAL], outputCols=[f"{c}_v" for c in CATEGORICAL], dropLast=False
    )
    assembler = VectorAssembler(inputCols=[f"{c}_v" for c in CATEGORICAL] + list(NUMERIC), outputCol="features")
    design = Pipeline(stages=[*indexers, encoder, assembler]).fit(frame).transform(frame)
    design = design.select(F.col("late").cast("double").alias("label"), "features").cache()
    design.count()
    lr = LogisticRegression(
        regParam=1.0 / rows, elasticNetParam=0.0, standardization=False, tol=1e-10, maxIter=500, family="binomial"
    )
    t0 = time.perf_counter()
    fit = lr.fit(design)
    seconds = time.perf_counter() - t0
    history = fit.summary.objectiveHistory
    spark.stop()
    return seconds, float(history[-1]), len(history) - 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip", default="")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    print(machine(), versions("numpy", "pyarrow", "distributed", "pyspark"))
    folder, rows = dataset(args.copies)
    source = open_source(folder)

    def streamed(engine: Any) -> oddsline.Model:
        return train_streamed(source, "late", engine=engine, spec=SPEC, test_size=0, allow_leaky=True)

    floor = statistics.median(read_floor(folder, SPEC, "late") for _ in range(args.repeats))
    times, model = [], None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model = streamed(LocalEngine())
        times.append(time.perf_counter() - t0)
    assert model is not None
    t_local = statistics.median(times)
    pass_time = statistics.median(one_pass(folder, model, SPEC, "late") for _ in range(args.repeats))
    fit = model.info["fit"]
    row = {
        "rows": f"{rows:,} ({args.copies} copies)",
        "design": f"{model.features.n_design + 1} parameters",
        "read floor s": f"{floor:.2f}",
        "one pass s": f"{pass_time:.2f} ({pass_time / floor:.2f}x floor)",
        "streamed local s": f"{t_local:.1f} ({fit['passes']} passes, objective {fit['objective']:.10f})",
    }
    print(row, flush=True)
    if "dask" not in skip:
        with DaskEngine(workers=2) as engine:
            t0 = time.perf_counter()
            on_dask = streamed(engine)
            row["streamed dask s"] = f"{time.perf_counter() - t0:.1f}"
            same = on_dask.coef.tolist() == model.coef.tolist()
            row["streamed dask s"] += " (coefficients equal the local fit's)" if same else " (coefficients DIFFER)"
        print(row, flush=True)
    if "spark" not in skip:
        try:
            seconds, objective, iterations = spark_fit(folder, model, rows)
            gap = (objective - fit["objective"]) / fit["objective"]
            row["spark local[2] s"] = (
                f"{seconds:.1f} (fit only, cached; {iterations} iterations; objective {gap:+.1e} relative; "
                f"{seconds / t_local:.1f}x oddsline local)"
            )
        except Exception as exc:  # reported, not hidden
            row["spark local[2] s"] = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
    keys = list(row)
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    print("| " + " | ".join(row.values()) + " |")


if __name__ == "__main__":
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # type: ignore[attr-defined]
    main()
