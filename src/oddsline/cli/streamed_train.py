"""``oddsline train`` on a source too large to read at once: several files, a folder or a glob, or any
data with ``--engine local|dask``. The fit streams record batches (``distributed/``)."""

from __future__ import annotations

import argparse
import glob
import warnings
from pathlib import Path
from typing import Any

from .._exceptions import LeakageWarning, ParameterError
from ..distributed import make_engine, train_streamed
from ..distributed.train import refuse_unstreamed
from ..features import FeatureSpec
from ..models import Model
from ..sources import open_source

__all__ = [
    "ENGINE_CHOICES",
    "add_engine_options",
    "describe_stream",
    "is_streamed",
    "score_source_command",
    "train_streamed_command",
]

ENGINE_CHOICES = ("auto", "memory", "local", "dask")


def add_engine_options(p: Any, *, batch_rows: bool = True) -> None:
    group = p.add_argument_group("data larger than memory")
    group.add_argument(
        "--engine",
        choices=ENGINE_CHOICES,
        default="auto",
        help="memory: read the table whole; local: stream record batches through a few threads, memory "
        "bounded whatever the size; dask: the same passes as tasks on a Dask cluster (--scheduler, or a "
        "LocalCluster of this machine). auto (default): memory for one file, local for several files, a "
        "folder or a glob",
    )
    group.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    group.add_argument(
        "--workers", type=int, metavar="N", help="threads (local) or LocalCluster processes (dask) (default: cores)"
    )
    if batch_rows:
        group.add_argument(
            "--batch-rows",
            type=int,
            default=65_536,
            metavar="N",
            help="rows read at a time when streaming (default 65536)",
        )


def is_streamed(args: argparse.Namespace) -> bool:
    if args.engine in ("local", "dask"):
        return True
    if args.engine == "memory":
        if len(args.data) > 1:
            raise ParameterError("--engine memory reads one file; give one DATA file or --engine local")
        return False
    only = args.data[0]
    return len(args.data) > 1 or Path(only).is_dir() or (not Path(only).exists() and glob.has_magic(only))


def train_streamed_command(args: argparse.Namespace, read: dict[str, Any]) -> Model:
    refuse_unstreamed(calibrate=args.calibrate, cv=args.cv, split=args.split, multiclass=args.multiclass)
    if _is_rule(args.threshold):
        raise ParameterError(
            f"--threshold {args.threshold}: rules need cross-fitted scores, not available when streaming yet; "
            "give a number, or train in memory on one file (--engine memory)"
        )
    source = open_source(args.data, batch_rows=args.batch_rows, **read)
    spec = FeatureSpec.load(args.spec) if args.spec else None
    engine_name = "local" if args.engine == "auto" else args.engine
    with make_engine(engine_name, args.scheduler, args.workers) as engine, warnings.catch_warnings():
        warnings.simplefilter("ignore", LeakageWarning)  # printed by the caller, after the summary
        return train_streamed(
            source,
            args.target,
            args.positive,
            engine=engine,
            C=args.C,
            l1_ratio=args.l1_ratio,
            test_size=args.test_size,
            seed=args.seed,
            spec=spec,
            ignore=args.ignore,
            drop_missing_target=args.drop_missing_target,
            threshold=float(args.threshold),
            class_weight=args.class_weight,
            allow_leaky=args.allow_leaky,
        )


def score_source_command(args: argparse.Namespace, model: Any, read: dict[str, Any]) -> tuple[int, Any]:
    """``predict`` of several files, a folder or a glob: one Parquet file per input file in the --out folder."""
    from ..distributed.score import score_source

    source = open_source(args.data, batch_rows=args.batch_rows, **read)
    engine_name = "local" if args.engine == "auto" else args.engine
    with make_engine(engine_name, args.scheduler, args.workers) as engine:
        rows, report, _ = score_source(
            model, source, args.out, engine=engine, id_column=args.id, on_bad_value=args.on_bad_value
        )
    return rows, report


def describe_stream(info: dict[str, Any]) -> str:
    engine = info["engine"]
    return (
        f"streamed on engine {engine['name']} ({engine['workers']} workers, {engine['partitions']} partitions), "
        f"{info['fit']['passes']} {info['fit']['solver']} passes; evaluation and reference on samples of "
        f"{info.get('evaluation_sample_rows', 0)} held-out and {info.get('reference_sample_rows', 0)} training rows"
    )


def _is_rule(threshold: str) -> bool:
    try:
        float(threshold)
        return False
    except ValueError:
        return True
