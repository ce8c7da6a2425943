"""``oddsline.train`` on a source of files of any size: exact, with memory bounded by a batch per worker.

The passes, each a map over the source's partitions merged in partition order:
  1. summary: counts, levels, ranges and moments, the target's labels, row samples (``summary.py``);
  2. exact quantiles the spec needs (medians to fill missing values, clip bounds, bins), usually one
     pass each (``feature_fit.py``);
  3. Newton: one pass per point the solver evaluates, each giving the loss, gradient and Hessian
     (``kernel.py``, ``problem.py``), with the in-memory solver's steps, line search and stopping rule.
The result is an ordinary ``Model``: coefficients, inference matrices and log-likelihoods come from the
sums of every training row. What needs rows in memory comes from uniform samples of at most
``SAMPLE_ROWS`` rows (by position hash): the monitoring reference, the leakage check, and the held-out
evaluation (of a sample of the held-out rows). Which rows are held out is decided by the same hash.

Not streamed yet (refused with the alternative): cross-fitted calibration and threshold rules, C chosen
by cross-validation, time and group splits, multiclass targets. L1/elastic net (``l1_ratio``) is solved by
proximal Newton + coordinate descent at the driver; more than 1500 parameters by L-BFGS on streamed
gradients.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import time
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from .._exceptions import LeakageWarning, ParameterError, SchemaError, TargetError
from .._version import __version__
from ..features import FeatureSpec
from ..features.spec import ColumnSpec
from ..leakage import leakage_warnings, single_column_auc
from ..model import Model
from ..monitor.reference import capture_reference
from ..regularization import check_l1_ratio, penalty_name
from ..sources import FileSource, FrameSource
from ..target import BinaryTarget, Label, resolve_target_counts
from .engines import Engine
from .feature_fit import STREAMED_KINDS, fit_features_streamed
from .job import Job
from .kernel import encode_labels
from .solve import Passes, Solved, solve, statistics
from .spec_sample import SampleRows, sample_partition
from .summary import SAMPLE_ROWS, Summary, sample_width, samples_complete, summarise_partition

__all__ = ["refuse_unstreamed", "train_streamed"]

_INFER_ROWS = SAMPLE_ROWS


def train_streamed(
    source: FileSource | FrameSource,
    target: str,
    positive: Label | None = None,
    *,
    engine: Engine,
    C: float = 1.0,
    test_size: float = 0.2,
    seed: int = 0,
    spec: FeatureSpec | None = None,
    ignore: Iterable[str] = (),
    drop_missing_target: bool = False,
    threshold: float = 0.5,
    class_weight: str | None = None,
    allow_leaky: bool = False,
    l1_ratio: float = 0.0,
    tol: float = 1e-8,
) -> Model:
    """Fit on ``source`` in passes; see the module docstring. ``l1_ratio`` > 0 mixes in an L1 penalty
    (elastic net; 1 is the lasso), solved by proximal Newton with coordinate descent on the merged
    quadratic at the driver, as the in-memory ``cd`` solver does."""
    started = time.perf_counter()
    _check_options(test_size, threshold, l1_ratio, C, class_weight)
    partitions = source.partitions()
    inferred = spec is None
    if spec is None:
        spec = _infer_spec(source, target, ignore, engine, seed)
    shipped = source.shippable() if isinstance(source, FrameSource) else source
    job = Job(shipped, spec, target, float(test_size), seed, drop_missing_target)
    summary = _summarise(engine, partitions, job)
    if summary.refused:
        if not inferred:
            raise SchemaError(next(iter(summary.refused.values())))
        # The sample saw two values; the data holds more (a 0/1 column with a rare 2): not boolean.
        job = dataclasses.replace(job, spec=_not_boolean(spec, summary))
        summary = _summarise(engine, partitions, job)
    binary, counts = _resolve_target(summary, target, positive, len(source.paths))
    n_train = summary.rows["train"]
    weights = (1.0, 1.0) if class_weight is None else (n_train / (2.0 * counts[0]), n_train / (2.0 * counts[1]))

    def run(function: Any, *arguments: Any) -> list[Any]:
        return engine.map(function, partitions, job, *arguments)

    labels = list(summary.target_counts)
    positive_of = dict(zip(labels, binary.encode(pa.table({target: pa.array(labels)})).tolist(), strict=True))
    features, cross_fitted, pending = fit_features_streamed(
        job.spec, summary, job, run, positive_of, defer_unused_fills=True
    )
    passes = Passes(engine, partitions, job, features, binary, weights, cross_fitted)
    solved = solve(
        passes, job.spec, counts, C=C, l1_ratio=l1_ratio, tol=tol, sample=summary.train_sample, pending=pending
    )
    passes = solved.passes
    if not solved.result.converged:
        warnings.warn(
            f"streamed {solved.solver} stopped after {solved.result.n_iter} iterations with gradient "
            f"{solved.result.grad_norm:.2e} above tol {tol:g} ({solved.result.message or 'max_iter reached'}); "
            "check for separation or use a smaller C",
            stacklevel=2,
        )
    options = {"C": C, "test_size": test_size, "seed": seed, "l1_ratio": l1_ratio, "class_weight": class_weight}
    model = _model(solved, passes, summary, source, float(threshold), options)
    _checks_on_samples(model, summary, solved, inferred and not allow_leaky)
    model.info["train_seconds"] = time.perf_counter() - started
    return model


def _check_options(test_size: float, threshold: Any, l1_ratio: float, C: float, class_weight: str | None) -> None:
    if not (isinstance(test_size, (int, float)) and 0 <= test_size < 1):
        raise ParameterError(f"test_size must be in [0, 1), got {test_size!r}")
    if isinstance(threshold, str) or not 0 <= float(threshold) <= 1:
        raise ParameterError(
            f"a streamed fit takes a number in [0, 1] as threshold, got {threshold!r}: threshold rules need "
            "cross-fitted scores, which are not streamed yet"
        )
    check_l1_ratio(l1_ratio, C)
    if class_weight not in (None, "balanced"):
        raise ParameterError(f"class_weight must be None or 'balanced', got {class_weight!r}")


def _summarise(engine: Engine, partitions: list[Any], job: Job) -> Summary:
    rows: list[int | None] = [getattr(p, "rows", None) for p in partitions]
    known = [n for n in rows if n is not None]
    width = sample_width(sum(known) if len(known) == len(rows) else None)
    summary: Summary = engine.fold(summarise_partition, partitions, job, _sketch_columns(job), width, start=Summary())
    if width < 1.0 and not samples_complete(summary):  # many rows left out for a missing target: read again
        summary = engine.fold(summarise_partition, partitions, job, _sketch_columns(job), 1.0, start=Summary())
    return summary


def _sketch_columns(job: Job) -> list[str]:
    """The columns of the training-row sketch ``evaluate`` compares rows with (as ``training.py``)."""
    return [*job.kinds, job.target]


def _resolve_target(
    summary: Summary, target: str, positive: Label | None, n_files: int
) -> tuple[BinaryTarget, tuple[int, int]]:
    if not summary.target_counts:
        raise TargetError(f"target column {target!r} has no values in the training rows of {n_files} file(s)")
    present = pa.chunked_array([pa.array(list(summary.target_counts))])
    binary = resolve_target_counts(target, summary.target_counts, present, positive)
    counts = _class_counts(binary, summary.target_counts)
    if min(counts) == 0:
        raise TargetError(f"the training rows hold only one class of {target!r}; lower --test-size or add data")
    return binary, counts


def _model(
    solved: Solved,
    passes: Passes,
    summary: Summary,
    source: FileSource | FrameSource,
    threshold: float,
    options: dict[str, Any],
) -> Model:
    result, features, spec = solved.result, passes.features, passes.job.spec
    d, C = features.n_design, options["C"]
    n_train, n_test = summary.rows["train"], summary.rows["test"]
    info: dict[str, Any] = {
        "n_rows": n_train + n_test,
        "n_train": n_train,
        "n_test": n_test,
        "rows_dropped_missing_target": summary.rows["dropped"],
        "n_design_columns": d,
        "reference_levels": {c: level for j, (c, level) in solved.references.items() if j in solved.aliased},
        "aliased": [features.design_names[j] for j in solved.aliased if j < d and j not in solved.references],
        "data_fingerprint": {"rows": n_train + n_test, "files": list(source.paths)},
        "ignored_columns": {name: reason for name, reason in spec.ignored},
        "fit": {
            "solver": solved.solver,
            "n_iter": result.n_iter,
            "converged": result.converged,
            "objective": result.objective if math.isfinite(result.objective) else None,
            "grad_norm": result.grad_norm if math.isfinite(result.grad_norm) else None,
            "passes": solved.problem.passes,
            "start": (
                {"from": "sample", "rows": solved.start.rows, "seconds": round(solved.start.seconds, 3)}
                if solved.start is not None
                else {"from": "intercept"}
            ),
        },
        "solver_reason": f"streamed, one pass over the source per evaluated point: {solved.reason}",
        "engine": {"name": passes.engine.name, "workers": passes.engine.workers, "partitions": len(passes.partitions)},
        "training_rows": {
            "columns": _sketch_columns(passes.job),
            "rows": n_train,
            "hashes": [f"{int(h):016x}" for h in summary.sketch],
        },
        "oddsline_version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    return Model(
        features=features,
        target=passes.target,
        coef=solved.theta[:-1].copy(),
        statistics=statistics(solved),
        intercept=float(solved.theta[-1]),
        threshold=threshold,
        calibrator=None,
        params={
            "C": "inf" if math.isinf(C) else float(C),
            "test_size": options["test_size"],
            "seed": options["seed"],
            "penalty": penalty_name(options["l1_ratio"]),
            "l1_ratio": options["l1_ratio"],
            "class_weight": options["class_weight"],
            "calibrate": None,
            "threshold_rule": None,
            "split": "hash",
            "streamed": True,
            "spec": spec.to_dict(),
        },
        info=info,
    )


def _checks_on_samples(model: Model, summary: Summary, solved: Solved, check_leaks: bool) -> None:
    """The monitoring reference, the held-out evaluation and the leakage check, on the row samples."""
    info, features = model.info, model.features
    sample = summary.train_sample
    if sample is None or not sample.num_rows:
        return
    y_sample = encode_labels(model.target, sample.column(model.target.name))
    scores = model.predict_proba(sample)[:, 1]
    design_std = np.array([m.std for m in solved.first.design or []])
    info["reference"] = capture_reference(features, sample, scores, y_sample, model.coef, design_std)
    info["reference"]["rows"] = info["n_train"]
    info["reference_sample_rows"] = sample.num_rows
    if summary.test_sample is not None and summary.test_sample.num_rows:
        info["evaluation"] = model.evaluate(summary.test_sample)
        info["evaluation_sample_rows"] = summary.test_sample.num_rows
    if check_leaks:
        held_out_auc = info.get("evaluation", {}).get("roc_auc")
        X_sample = features.transform(sample)
        info["warnings"] = leakage_warnings(single_column_auc(features, X_sample, y_sample, model.coef), held_out_auc)
        for message in info["warnings"]:
            warnings.warn(message, LeakageWarning, stacklevel=3)


def _not_boolean(spec: FeatureSpec, summary: Summary) -> FeatureSpec:
    sample = summary.train_sample
    columns = []
    for c in spec.columns:
        if c.name in summary.refused:
            numeric = sample is not None and c.name in sample.column_names and _is_number(sample.column(c.name).type)
            reason = "two values in the sampled rows, more in the data: " + ("numeric" if numeric else "categorical")
            c = ColumnSpec(c.name, "numeric" if numeric else "categorical", {}, reason)
        columns.append(c)
    return dataclasses.replace(spec, columns=tuple(columns))


def _is_number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind))


def refuse_unstreamed(*, calibrate: str | None, cv: int | None, split: str, multiclass: bool) -> None:
    """Options a streamed fit cannot honour yet, refused by name with the alternative."""
    named = [
        flag
        for flag, given in {
            "calibrate": calibrate not in (None, "none"),
            "cv": cv is not None,
            "split time/group": split not in ("random", "hash"),
            "multiclass": multiclass,
        }.items()
        if given
    ]
    if named:
        raise ParameterError(
            f"{', '.join(named)}: not available when streaming yet (they need cross-fitted or ordered rows); "
            "train in memory (--engine memory, on one file that holds all the rows), or drop the option"
        )


def _class_counts(binary: BinaryTarget, counts: dict[Any, int]) -> tuple[int, int]:
    labels = list(counts)
    y = binary.encode(pa.table({binary.name: pa.array(labels)}))
    positives = sum(n for label, n, v in zip(labels, counts.values(), y, strict=True) if v == 1.0)
    return sum(counts.values()) - positives, positives


def _infer_spec(
    source: FileSource | FrameSource, target: str, ignore: Iterable[str], engine: Engine, seed: int
) -> FeatureSpec:
    """A spec inferred from a uniform sample of every file (``spec_sample.py``), with the kinds a stream
    cannot fit left out with the reason."""
    partitions = source.partitions()
    shipped = source.shippable() if isinstance(source, FrameSource) else source
    sample = engine.fold(sample_partition, partitions, shipped, seed, _INFER_ROWS, start=SampleRows(_INFER_ROWS))
    table = sample.table if sample.table is not None else pa.table({})
    if not table.num_rows:
        where = source.paths[0] if len(source.paths) == 1 else f"the {len(source.paths)} files of the source"
        raise SchemaError(f"{where}: no data rows to train on (a header or an empty file only)")
    if target not in table.column_names:
        raise TargetError(f"target column {target!r} is not in {source.paths[0]}; its columns are {table.column_names}")
    spec = FeatureSpec.infer(table, target=target, ignore=ignore)
    # What inference saw is a sample, not every row: say so where a reason claims every row.
    sampled = f"every one of the {table.num_rows:,} sampled rows"
    columns, ignored = [], [(name, reason.replace("every row", sampled)) for name, reason in spec.ignored]
    for c in spec.columns:
        if c.kind in STREAMED_KINDS:
            columns.append(c)
        else:
            ignored.append((c.name, f"{c.kind} columns are not streamed yet; declare it in a spec as categorical"))
    return dataclasses.replace(spec, columns=tuple(columns), ignored=tuple(ignored))
