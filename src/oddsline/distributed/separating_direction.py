"""Separation by a combination of columns in an unpenalised streamed fit, decided exactly by constraint
generation.

In memory, Konis' linear programme over every row decides whether the unpenalised estimate exists
(``core/separation.py``). A stream cannot hold the rows, but the question splits well: data that are
separated stay separated in any subset of their rows, so the programme on the summary's row sample
either finds no separating direction (then the whole source has none: no pass needed), or a candidate.
One pass over the source then collects the rows the candidate misclassifies; with none, it separates the
whole source (SeparationError, naming its columns as the in-memory fit does); otherwise those rows join
the programme's rows and it is solved again. Each round either ends or adds rows that exclude the last
candidate, so it settles in a few rounds (at most ``_ROUNDS``; past them the fit goes on, with a warning).

Without this, a source whose classes two columns separate (y = x1 + x2 > 0) "converged" with
coefficients in the thousands and standard errors to match, and no warning.
"""

from __future__ import annotations

import heapq
import warnings
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from .._exceptions import SeparationError
from ..core.separation import find_separation
from ..features import FittedFeatures, TransformReport
from ..sources import Partition
from ..target import BinaryTarget
from .job import Job, row_batches
from .kernel import KernelLayout, encode_labels

__all__ = ["misclassified_rows", "raise_if_separated_by_columns"]

_SAMPLE_ROWS = 20_000  # of the summary's sample in the first programme: its cost grows with rows x columns
_ROUNDS = 8
_PER_ROUND = 2_000  # misclassified rows added per round (the worst of each partition)
_TOL = 1e-7  # relative to the size of a row's terms: rounding of the direction is not a misclassification


def raise_if_separated_by_columns(
    passes: Any, sample: pa.Table | None, keep: NDArray[np.intp], target_name: str
) -> None:
    """SeparationError when some direction over the ``keep`` parameters (design columns, intercept last)
    has every training row on its class's side; nothing otherwise. ``passes`` is ``solve.Passes``."""
    features: FittedFeatures = passes.features
    if sample is None or not sample.num_rows or passes.cross_fitted:
        return  # target-encoded columns take out-of-fold values in training: the sample's are not those
    d = features.n_design
    columns = keep[keep < d]
    rows = sample.slice(0, _SAMPLE_ROWS)
    X = features.transform(rows)[:, columns]
    y = encode_labels(passes.target, rows.column(target_name))
    for _ in range(_ROUNDS):
        found = find_separation(X, y, np.ones(y.shape[0]), fit_intercept=True)
        if found is None:
            return
        direction = np.zeros(d + 1)
        direction[columns] = found.direction[:-1]
        direction[d] = found.direction[-1]
        parts = passes.run(misclassified_rows, features, passes.target, direction, _PER_ROUND)
        extra_X = [p[0] for p in parts if p[0].shape[0]]
        if not extra_X:
            names = ", ".join(repr(features.design_names[int(columns[j])]) for j in found.columns)
            raise SeparationError(
                f"the classes of {target_name!r} are separated by {names}: an unpenalised fit has no finite "
                "estimate. Use a finite C (--C 1), or drop or merge those columns/levels",
                columns=tuple(int(columns[j]) for j in found.columns),
            )
        X = np.vstack([X, *(x[:, columns] for x in extra_X)])
        y = np.concatenate([y, *(p[1] for p in parts if p[0].shape[0])])
    warnings.warn(
        f"could not decide in {_ROUNDS} rounds whether the classes of {target_name!r} are separated; if the "
        "unpenalised fit ends with very large coefficients and standard errors, they are: use a finite C",
        stacklevel=4,
    )


def misclassified_rows(
    partition: Partition,
    job: Job,
    features: FittedFeatures,
    target: BinaryTarget,
    direction: NDArray[np.float64],
    limit: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The partition's training rows on the wrong side of ``direction`` (over [design..., intercept]):
    at most ``limit`` of them, the worst first, as design rows and labels (a worker task)."""
    layout = KernelLayout.of(features)
    v = layout.to_kernel(direction)
    worst: list[tuple[float, int, NDArray[np.float64], float]] = []  # (margin, tie-break, row, label)
    counter = 0
    for batch in row_batches(partition, job, side="train"):
        if not batch.table.num_rows:
            continue
        X, one_hot = layout.design(features, batch.table, TransformReport())
        k = X.shape[1]
        margin = X @ v[:k] + v[-1] + one_hot.offsets(v[k:-1])
        size = np.abs(X) @ np.abs(v[:k]) + abs(v[-1]) + one_hot.offsets(np.abs(v[k:-1]))
        y = encode_labels(target, batch.table.column(job.target))
        signed = np.where(y == 1.0, margin, -margin)
        wrong = np.flatnonzero(signed < -_TOL * (1.0 + size))
        if not wrong.size:
            continue
        design = _model_order_rows(layout, X[wrong], one_hot.codes[wrong], features.n_design)
        for i, row in enumerate(wrong):
            entry = (-float(signed[row]), counter, design[i], float(y[row]))
            counter += 1
            if len(worst) < limit:
                heapq.heappush(worst, entry)
            elif entry > worst[0]:
                heapq.heapreplace(worst, entry)
    if not worst:
        return np.empty((0, features.n_design)), np.empty(0)
    return np.vstack([w[2] for w in worst]), np.array([w[3] for w in worst])


def _model_order_rows(
    layout: KernelLayout, dense: NDArray[np.float64], codes: NDArray[np.int32], d: int
) -> NDArray[np.float64]:
    """Kernel-layout rows (dense block, one-hot codes) as rows of the model's design."""
    kernel = np.zeros((dense.shape[0], d))
    kernel[:, : layout.n_dense] = dense
    rows = np.arange(dense.shape[0])
    for b in range(codes.shape[1]):
        hit = codes[:, b] >= 0
        kernel[rows[hit], layout.n_dense + codes[hit, b]] = 1.0
    return kernel[:, layout.order]
