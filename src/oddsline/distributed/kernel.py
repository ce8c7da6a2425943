"""The per-batch kernel both engines run: a batch's share of the loss, gradient and Hessian at theta.

Newton needs only sums over rows: sum w l(eta), X~^T (w (p - y)) and X~^T diag(w p (1 - p)) X~, with
X~ = [X, 1]. A partition adds its batches' sums in file order and the driver adds the partitions' sums in
partition order, so a rerun on the same partitioning gives the same bits whatever the thread or worker
timing. The first pass also gathers the design's column moments (the reference point of ``explain``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ..core.link import expit
from ..core.loss import binomial_loss_gradient
from ..features import FittedFeatures, TransformReport
from ..sources import Partition
from ..target import BinaryTarget
from .job import Job, row_batches
from .summary import Moments
from .target_folds import TargetFolds

__all__ = ["KernelLayout", "Sums", "batch_sums", "encode_labels", "newton_partition"]


@dataclass
class Sums:
    """Unnormalised sums over rows of one side at one theta."""

    loss: float = 0.0
    gradient: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # X~^T w (p - y)
    hessian: NDArray[np.float64] | None = None  # X~^T diag(w p (1 - p)) X~
    weight: float = 0.0
    weighted_positives: float = 0.0
    rows: int = 0
    design: list[Moments] | None = None  # per design column, when asked
    report: TransformReport = field(default_factory=TransformReport)

    def merge(self, other: Sums) -> Sums:
        if not self.rows:
            return other
        if not other.rows:
            return self
        hessian = None if self.hessian is None or other.hessian is None else self.hessian + other.hessian
        design = (
            None
            if self.design is None or other.design is None
            else [a.merge(b) for a, b in zip(self.design, other.design, strict=True)]
        )
        report = TransformReport()
        report.merge(self.report)
        report.merge(other.report)
        return Sums(
            self.loss + other.loss,
            self.gradient + other.gradient,
            hessian,
            self.weight + other.weight,
            self.weighted_positives + other.weighted_positives,
            self.rows + other.rows,
            design,
            report,
        )


def encode_labels(target: BinaryTarget, column: pa.ChunkedArray) -> NDArray[np.float64]:
    """``target.encode`` of a column, each distinct label looked up once (the same errors)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    per_label = target.encode(pa.table({target.name: encoded.dictionary}))
    return np.asarray(per_label[encoded.indices.to_numpy(zero_copy_only=False)], dtype=np.float64)


@dataclass(frozen=True)
class KernelLayout:
    """Where each design column sits in the kernel's matrix: the dense columns first, then the one-hot
    blocks, column-major, so that each group is one contiguous block for BLAS. ``order[j]`` is the
    kernel position of the model's design column j; sums are mapped back before they leave a task."""

    blocks: tuple[tuple[Any, slice], ...]  # each fitted column and its kernel slice
    order: NDArray[np.intp]
    n_dense: int

    @classmethod
    def of(cls, features: FittedFeatures) -> KernelLayout:
        pairs = features.blocks()
        dense = [(c, b) for c, b in pairs if c.kind != "categorical"]
        one_hot = [(c, b) for c, b in pairs if c.kind == "categorical"]
        order = np.empty(features.n_design, dtype=np.intp)
        placed, at = [], 0
        for column, block in dense + one_hot:
            width = block.stop - block.start
            order[block] = np.arange(at, at + width)
            placed.append((column, slice(at, at + width)))
            at += width
        n_dense = sum(b.stop - b.start for _, b in dense)
        return cls(tuple(placed), order, n_dense)

    @property
    def one_hot(self) -> list[slice]:
        """The kernel slices of the one-hot blocks, relative to the first one-hot column."""
        return [
            slice(b.start - self.n_dense, b.stop - self.n_dense)
            for c, b in self.blocks
            if c.kind == "categorical" and b.stop > b.start
        ]

    def design(self, features: FittedFeatures, table: pa.Table, report: TransformReport) -> NDArray[np.float64]:
        """``features.transform`` in this layout: the same values, the same checks and counts."""
        features.check_columns(table.column_names, report, table.num_rows)
        report.rows += table.num_rows
        out = np.zeros((table.num_rows, features.n_design), order="F")
        for column, block in self.blocks:
            column.encode(table, out[:, block], report)
        return out

    def position(self, target_encoded: str) -> int:
        """The kernel column of a target-encoded column (one design column)."""
        return int(next(b.start for c, b in self.blocks if c.kind == "target" and c.name == target_encoded))

    def to_kernel(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.empty_like(theta)
        out[self.order] = theta[:-1]
        out[-1] = theta[-1]
        return out

    def to_model(self, sums: Sums) -> Sums:
        """The sums with the model's column order (the intercept stays last)."""
        full = np.r_[self.order, self.order.size]
        sums.gradient = sums.gradient[full]
        if sums.hessian is not None:
            sums.hessian = sums.hessian[np.ix_(full, full)]
        if sums.design is not None:
            sums.design = [sums.design[k] for k in self.order]
        return sums


def newton_partition(
    partition: Partition,
    job: Job,
    features: FittedFeatures,
    target: BinaryTarget,
    class_weight: tuple[float, float],
    theta: NDArray[np.float64],
    with_hessian: bool = True,
    with_design: bool = False,
    cross_fitted: tuple[TargetFolds, ...] = (),
) -> Sums:
    """One partition's training-row sums at ``theta`` (a worker task). Target-encoded columns take
    their out-of-fold values (``cross_fitted``), as the in-memory training design does."""
    out = Sums()
    layout = KernelLayout.of(features)
    theta_k = layout.to_kernel(theta)
    one_hot = layout.one_hot
    for batch in row_batches(partition, job, side="train"):
        if not batch.table.num_rows:
            continue
        report = TransformReport()
        X = layout.design(features, batch.table, report)
        for folds in cross_fitted:
            X[:, layout.position(folds.name)] = folds.values(batch.table.column(folds.name), batch.position_hash)
        y = encode_labels(target, batch.table.column(job.target))
        weight = np.where(y == 1.0, class_weight[1], class_weight[0])
        part = batch_sums(X, y, weight, theta_k, with_hessian, (layout.n_dense, one_hot), with_design)
        part.report = report
        out = out.merge(part)
    return layout.to_model(out) if out.rows else out


OneHot = tuple[int, list[slice]]  # (number of dense columns before them, the one-hot blocks after)


def batch_sums(
    X: NDArray[np.float64],
    y: NDArray[np.float64],
    weight: NDArray[np.float64],
    theta: NDArray[np.float64],
    with_hessian: bool = True,
    one_hot: OneHot | None = None,
    with_design: bool = False,
) -> Sums:
    """The sums of one block of design rows at theta (the math of every streamed pass). With ``one_hot``
    the columns are laid out as ``KernelLayout`` does, and the one-hot blocks' Hessian is counted."""
    part = Sums()
    eta = X @ theta[:-1]
    eta += float(theta[-1])
    part.loss, g_eta = binomial_loss_gradient(eta, y, weight)
    d = X.shape[1]
    part.gradient = np.empty(d + 1)
    part.gradient[:d] = X.T @ g_eta
    part.gradient[d] = g_eta.sum()
    if with_hessian:
        p = expit(eta)
        part.hessian = _gram(X, weight * (p * (1.0 - p)), one_hot)
    part.weight = float(weight.sum())
    part.weighted_positives = float(weight @ y)
    part.rows = X.shape[0]
    if with_design:
        part.design = _column_moments(X)
    return part


def _gram(X: NDArray[np.float64], h: NDArray[np.float64], one_hot: OneHot | None) -> NDArray[np.float64]:
    """[X, 1]^T diag(h) [X, 1]. With ``one_hot`` = (k, blocks), X = [k dense columns | one-hot blocks]
    (``KernelLayout``) is built in pieces: dense x dense by GEMM on sqrt(h)-scaled rows, one-hot x dense by
    one GEMM of the 0/1 columns, one-hot x one-hot by weighted counts of level pairs (a row adds h to one
    cell of each pair of blocks). On 10 categorical columns of 8 levels beside 30 numbers this takes a
    third of the full product's time."""
    d = X.shape[1]
    gram = np.zeros((d + 1, d + 1))
    if not one_hot or not one_hot[1]:
        scaled = X * np.sqrt(h)[:, None]
        gram[:d, :d] = scaled.T @ scaled
    else:
        k, blocks = one_hot
        dense, onehot = X[:, :k], X[:, k:]
        scaled = dense * np.sqrt(h)[:, None]
        gram[:k, :k] = scaled.T @ scaled
        cross = onehot.T @ (dense * h[:, None])
        gram[k:d, :k] = cross
        gram[:k, k:d] = cross.T
        codes = []
        for block in blocks:
            width = block.stop - block.start
            # Each row's level in the block (0..width-1), or width for a row in none (an unseen level).
            code = (onehot[:, block] @ np.arange(1.0, width + 1.0)).astype(np.intp) - 1
            code[code < 0] = width
            codes.append((block, width, code))
        for i, (a, wa, ca) in enumerate(codes):
            at = np.arange(k + a.start, k + a.stop)
            gram[at, at] = np.bincount(ca, weights=h, minlength=wa + 1)[:wa]
            for b, wb, cb in codes[i + 1 :]:
                pairs = np.bincount(ca * (wb + 1) + cb, weights=h, minlength=(wa + 1) * (wb + 1))
                block_ab = pairs.reshape(wa + 1, wb + 1)[:wa, :wb]
                gram[k + a.start : k + a.stop, k + b.start : k + b.stop] = block_ab
                gram[k + b.start : k + b.stop, k + a.start : k + a.stop] = block_ab.T
    gram[d, :d] = h @ X
    gram[:d, d] = gram[d, :d]
    gram[d, d] = h.sum()
    return gram


def _column_moments(X: NDArray[np.float64]) -> list[Moments]:
    n = X.shape[0]
    mean = X.mean(axis=0)
    m2 = ((X - mean) ** 2).sum(axis=0)
    return [Moments(float(n), float(mean[j]), float(m2[j])) for j in range(X.shape[1])]
