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
from .._threads import numpy_owns_the_cores
from .._version import __version__
from ..core.inference import aliased_in_gram
from ..core.solvers import fit_cd, fit_lbfgs, fit_newton
from ..core.solvers.choice import NEWTON_MAX_PARAMS
from ..estimator import _DEFAULT_MAX_ITER
from ..features import FeatureSpec
from ..features.spec import ColumnSpec
from ..identification import reference_levels
from ..leakage import leakage_warnings, single_column_auc
from ..model import Model
from ..monitor.reference import capture_reference
from ..sources import FileSource, FrameSource
from ..target import BinaryTarget, Label, resolve_target_counts
from .engines import Engine
from .feature_fit import STREAMED_KINDS, fit_features_streamed
from .job import Job
from .kernel import Sums, encode_labels, newton_partition
from .problem import StreamedProblem
from .spec_sample import SampleRows, sample_partition
from .summary import SAMPLE_ROWS, Summary, summarise_partition

__all__ = ["refuse_unstreamed", "train_streamed"]

_INFER_ROWS = SAMPLE_ROWS
_SOLVERS: dict[str, Any] = {"newton": fit_newton, "cd": fit_cd, "lbfgs": fit_lbfgs}


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
    if not (isinstance(test_size, (int, float)) and 0 <= test_size < 1):
        raise ParameterError(f"test_size must be in [0, 1), got {test_size!r}")
    if isinstance(threshold, str) or not 0 <= float(threshold) <= 1:
        raise ParameterError(
            f"a streamed fit takes a number in [0, 1] as threshold, got {threshold!r}: threshold rules need "
            "cross-fitted scores, which are not streamed yet"
        )
    if not 0 <= l1_ratio <= 1 or (l1_ratio and math.isinf(C)):
        raise ParameterError(f"l1_ratio must be in [0, 1] with a finite C, got {l1_ratio!r} with C={C!r}")
    if class_weight not in (None, "balanced"):
        raise ParameterError(f"class_weight must be None or 'balanced', got {class_weight!r}")
    partitions = source.partitions()
    inferred = spec is None
    if spec is None:
        spec = _infer_spec(source, target, ignore, engine, seed)
    shipped = source.shippable() if isinstance(source, FrameSource) else source
    job = Job(shipped, spec, target, float(test_size), seed, drop_missing_target)
    sketch_columns = [*job.kinds, target]
    summary = engine.fold(summarise_partition, partitions, job, sketch_columns, start=Summary())
    if summary.refused:
        if not inferred:
            raise SchemaError(next(iter(summary.refused.values())))
        # The sample saw two values; the data holds more (a 0/1 column with a rare 2): not boolean.
        spec = _not_boolean(spec, summary)
        job = Job(shipped, spec, target, float(test_size), seed, drop_missing_target)
        summary = engine.fold(summarise_partition, partitions, job, sketch_columns, start=Summary())
    n_train = summary.rows["train"]
    if not summary.target_counts:
        raise TargetError(f"target column {target!r} has no values in the training rows of {len(source.paths)} file(s)")
    binary = resolve_target_counts(
        target, summary.target_counts, pa.chunked_array([pa.array(list(summary.target_counts))]), positive
    )
    counts = _class_counts(binary, summary.target_counts)
    if min(counts) == 0:
        raise TargetError(f"the training rows hold only one class of {target!r}; lower --test-size or add data")
    weights = (1.0, 1.0) if class_weight is None else tuple(n_train / (2.0 * c) for c in counts)

    def run(function: Any, *arguments: Any) -> list[Any]:
        return engine.map(function, partitions, job, *arguments)

    labels = list(summary.target_counts)
    positive_of = dict(zip(labels, binary.encode(pa.table({target: pa.array(labels)})).tolist(), strict=True))
    features, cross_fitted = fit_features_streamed(spec, summary, job, run, positive_of)
    d = features.n_design

    def evaluate(theta: np.ndarray, hessian: bool, design: bool = False) -> Sums:
        sums: Sums = engine.fold(
            newton_partition,
            partitions,
            job,
            features,
            binary,
            weights,
            theta,
            hessian,
            design,
            cross_fitted,
            start=Sums(),
        )
        return sums

    total_weight = weights[0] * counts[0] + weights[1] * counts[1]
    rate = float(np.clip(weights[1] * counts[1] / total_weight, 1e-12, 1 - 1e-12))
    theta0 = np.zeros(d + 1)
    theta0[-1] = math.log(rate / (1.0 - rate))
    solver, reason = _solver(d + 1, l1_ratio)
    first = evaluate(theta0, solver != "lbfgs" or math.isinf(C), design=True)
    references = reference_levels(spec, features) if math.isinf(C) else {}
    aliased = np.array([], dtype=np.intp)
    if math.isinf(C):
        assert first.hessian is not None
        gram = first.hessian / max(float(np.max(np.diag(first.hessian))), 1e-300)
        aliased = np.asarray(aliased_in_gram(gram, d, tuple(references)), dtype=np.intp)
    keep = np.setdiff1d(np.arange(d + 1), aliased)
    problem = StreamedProblem(
        evaluate,
        n_features=d,
        total_weight=total_weight,
        n_rows=n_train,
        C=C,
        l1_ratio=l1_ratio,
        keep=keep,
        hessians=solver != "lbfgs",
    )
    problem._memo = (theta0[keep].copy(), first)
    with numpy_owns_the_cores():
        result = _SOLVERS[solver](problem, theta0[keep], tol=tol, max_iter=_DEFAULT_MAX_ITER[solver])
    theta = problem.full_theta(result.theta)
    at_optimum = problem.sums(result.theta, hessian=True)  # the inference matrices need it
    if not result.converged:
        warnings.warn(
            f"streamed Newton stopped after {result.n_iter} iterations with gradient {result.grad_norm:.2e} above "
            f"tol {tol:g} ({result.message or 'max_iter reached'}); check for separation or use a smaller C",
            stacklevel=2,
        )
    statistics = _statistics(at_optimum, theta, problem, first, binary, weights)
    if math.isinf(C):
        statistics["aliased"] = aliased.astype(np.float64)
    design_std = np.array([m.std for m in first.design or []])
    info: dict[str, Any] = {
        "n_rows": n_train + summary.rows["test"],
        "n_train": n_train,
        "n_test": summary.rows["test"],
        "rows_dropped_missing_target": summary.rows["dropped"],
        "n_design_columns": d,
        "reference_levels": {column: level for j, (column, level) in references.items() if j in aliased},
        "aliased": [features.design_names[j] for j in aliased if j < d and j not in references],
        "data_fingerprint": {"rows": n_train + summary.rows["test"], "files": list(source.paths)},
        "ignored_columns": {name: reason for name, reason in spec.ignored},
        "fit": {
            "solver": solver,
            "n_iter": result.n_iter,
            "converged": result.converged,
            "objective": result.objective if math.isfinite(result.objective) else None,
            "grad_norm": result.grad_norm if math.isfinite(result.grad_norm) else None,
            "passes": problem.passes,
        },
        "solver_reason": f"streamed, one pass over the source per evaluated point: {reason}",
        "engine": {"name": engine.name, "workers": engine.workers, "partitions": len(partitions)},
        "oddsline_version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    model = Model(
        features=features,
        target=binary,
        coef=theta[:-1].copy(),
        statistics=statistics,
        intercept=float(theta[-1]),
        threshold=float(threshold),
        calibrator=None,
        params={
            "C": "inf" if math.isinf(C) else float(C),
            "test_size": test_size,
            "seed": seed,
            "penalty": "l2" if not l1_ratio else "elasticnet",
            "l1_ratio": l1_ratio,
            "class_weight": class_weight,
            "calibrate": None,
            "threshold_rule": None,
            "split": "hash",
            "streamed": True,
            "spec": spec.to_dict(),
        },
        info=info,
    )
    info["training_rows"] = {
        "columns": sketch_columns,
        "rows": n_train,
        "hashes": [f"{int(h):016x}" for h in summary.sketch],
    }
    sample = summary.train_sample
    if sample is not None and sample.num_rows:
        X_sample = features.transform(sample)
        y_sample = encode_labels(binary, sample.column(target))
        scores = model.predict_proba(sample)[:, 1]
        info["reference"] = capture_reference(features, sample, scores, y_sample, model.coef, design_std)
        info["reference"]["rows"] = n_train
        info["reference_sample_rows"] = sample.num_rows
    if summary.test_sample is not None and summary.test_sample.num_rows:
        info["evaluation"] = model.evaluate(summary.test_sample)
        info["evaluation_sample_rows"] = summary.test_sample.num_rows
    if inferred and not allow_leaky and sample is not None and sample.num_rows:
        held_out_auc = info.get("evaluation", {}).get("roc_auc")
        info["warnings"] = leakage_warnings(single_column_auc(features, X_sample, y_sample, model.coef), held_out_auc)
        for message in info["warnings"]:
            warnings.warn(message, LeakageWarning, stacklevel=2)
    info["train_seconds"] = time.perf_counter() - started
    return model


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


def _solver(n_params: int, l1_ratio: float) -> tuple[str, str]:
    if l1_ratio > 0:
        return "cd", "L1/elastic net: proximal Newton with coordinate descent on the merged quadratic"
    if n_params > NEWTON_MAX_PARAMS:
        return "lbfgs", f"{n_params} parameters > {NEWTON_MAX_PARAMS}: L-BFGS on streamed gradients, no Hessian"
    return "newton", "exact Newton (Hessian, gradient and loss from one pass)"


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
            "train in memory on one file (--engine memory), or drop the option"
        )


def _class_counts(binary: BinaryTarget, counts: dict[Any, int]) -> tuple[int, int]:
    labels = list(counts)
    y = binary.encode(pa.table({binary.name: pa.array(labels)}))
    positives = sum(n for label, n, v in zip(labels, counts.values(), y, strict=True) if v == 1.0)
    return sum(counts.values()) - positives, positives


def _statistics(
    at: Sums,
    theta: np.ndarray,
    problem: StreamedProblem,
    first: Sums,
    binary: BinaryTarget,
    weights: tuple[float, float],
) -> dict[str, np.ndarray]:
    assert at.hessian is not None
    info = at.hessian.copy()
    hess = info.copy()
    d = theta.size - 1
    idx = np.arange(d)
    hess[idx, idx] += problem.l2 * problem.total_weight
    positives = at.weighted_positives
    rate = positives / at.weight
    llnull = 0.0 if rate in (0.0, 1.0) else positives * math.log(rate) + (at.weight - positives) * math.log(1 - rate)
    return {
        "fisher_information": info,
        "penalised_hessian": hess,
        "likelihood": np.array([-at.loss, llnull, at.weight]),
        "design_mean": np.array([m.mean for m in first.design or []]),
    }


def _infer_spec(
    source: FileSource | FrameSource, target: str, ignore: Iterable[str], engine: Engine, seed: int
) -> FeatureSpec:
    """A spec inferred from a uniform sample of every file (``spec_sample.py``), with the kinds a stream
    cannot fit left out with the reason."""
    partitions = source.partitions()
    shipped = source.shippable() if isinstance(source, FrameSource) else source
    sample = engine.fold(sample_partition, partitions, shipped, seed, _INFER_ROWS, start=SampleRows(_INFER_ROWS))
    table = sample.table if sample.table is not None else pa.table({})
    if target not in table.column_names:
        raise TargetError(f"target column {target!r} is not in {source.paths[0]}; its columns are {table.column_names}")
    spec = FeatureSpec.infer(table, target=target, ignore=ignore)
    columns, ignored = [], list(spec.ignored)
    for c in spec.columns:
        if c.kind in STREAMED_KINDS:
            columns.append(c)
        elif c.kind == "target":
            columns.append(
                ColumnSpec(c.name, "hashed", {"bits": 10}, f"{c.reason}; hashed: target encoding is not streamed")
            )
        else:
            ignored.append((c.name, f"{c.kind} columns are not streamed yet; declare it in a spec as categorical"))
    return dataclasses.replace(spec, columns=tuple(columns), ignored=tuple(ignored))
