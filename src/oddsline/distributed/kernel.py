"""The per-batch kernel both engines run: a batch's share of the loss, gradient and Hessian at theta.

Newton needs only sums over rows: sum w l(eta), X~^T (w (p - y)) and X~^T diag(w p (1 - p)) X~, with
X~ = [X, 1]. A partition adds its batches' sums in file order and the driver adds the partitions' sums in
partition order, so a rerun on the same partitioning gives the same bits whatever the thread or worker
timing. The first pass also gathers the design's column moments (the reference point of ``explain``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

__all__ = ["Sums", "batch_sums", "encode_labels", "newton_partition", "one_hot_blocks"]


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


def newton_partition(
    partition: Partition,
    job: Job,
    features: FittedFeatures,
    target: BinaryTarget,
    class_weight: tuple[float, float],
    theta: NDArray[np.float64],
    with_hessian: bool = True,
    with_design: bool = False,
) -> Sums:
    """One partition's training-row sums at ``theta`` (a worker task)."""
    out = Sums()
    blocks = one_hot_blocks(features)
    for batch in row_batches(partition, job, side="train"):
        if not batch.table.num_rows:
            continue
        report = TransformReport()
        X = features.transform(batch.table, report)
        y = encode_labels(target, batch.table.column(job.target))
        weight = np.where(y == 1.0, class_weight[1], class_weight[0])
        part = batch_sums(X, y, weight, theta, with_hessian, blocks, with_design)
        part.report = report
        out = out.merge(part)
    return out


def batch_sums(
    X: NDArray[np.float64],
    y: NDArray[np.float64],
    weight: NDArray[np.float64],
    theta: NDArray[np.float64],
    with_hessian: bool = True,
    one_hot: list[slice] | None = None,
    with_design: bool = False,
) -> Sums:
    """The sums of one block of design rows at theta (the math of every streamed pass)."""
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
        part.hessian = _gram(X, weight * (p * (1.0 - p)), one_hot or [])
    part.weight = float(weight.sum())
    part.weighted_positives = float(weight @ y)
    part.rows = X.shape[0]
    if with_design:
        part.design = _column_moments(X)
    return part


def one_hot_blocks(features: FittedFeatures) -> list[slice]:
    """The design slices that hold at most one 1 per row (categorical levels): their Hessian blocks are
    counts, not products."""
    return [block for column, block in features.blocks() if column.kind == "categorical" and block.stop > block.start]


def _gram(X: NDArray[np.float64], h: NDArray[np.float64], one_hot: list[slice]) -> NDArray[np.float64]:
    """[X, 1]^T diag(h) [X, 1], blocked: the dense columns by GEMM on sqrt(h)-scaled rows, one-hot blocks
    by weighted counts of level pairs (a row adds h to one cell of each pair of blocks), and one-hot x
    dense by a GEMM of the 0/1 block. On 10 categorical columns of 8 levels beside 30 numbers this does a
    quarter of the flops of the full product."""
    d = X.shape[1]
    gram = np.zeros((d + 1, d + 1))
    if not one_hot:
        scaled = X * np.sqrt(h)[:, None]
        gram[:d, :d] = scaled.T @ scaled
    else:
        mask = np.zeros(d, dtype=bool)
        for block in one_hot:
            mask[block] = True
        dense = np.flatnonzero(~mask)
        D = X[:, dense]
        scaled = D * np.sqrt(h)[:, None]
        gram[np.ix_(dense, dense)] = scaled.T @ scaled
        hD = D * h[:, None]
        codes = []
        for block in one_hot:
            width = block.stop - block.start
            # Each row's level (0..width-1), or width for a row in none of them (an unseen level).
            code = (X[:, block] @ np.arange(1.0, width + 1.0)).astype(np.intp) - 1
            code[code < 0] = width
            codes.append((block, width, code))
            cross = X[:, block].T @ hD
            gram[block.start : block.stop, dense] = cross
            gram[dense, block.start : block.stop] = cross.T
        for i, (a, wa, ca) in enumerate(codes):
            counts = np.bincount(ca, weights=h, minlength=wa + 1)[:wa]
            gram[np.arange(a.start, a.stop), np.arange(a.start, a.stop)] = counts
            for b, wb, cb in codes[i + 1 :]:
                pairs = np.bincount(ca * (wb + 1) + cb, weights=h, minlength=(wa + 1) * (wb + 1))
                block_ab = pairs.reshape(wa + 1, wb + 1)[:wa, :wb]
                gram[a.start : a.stop, b.start : b.stop] = block_ab
                gram[b.start : b.stop, a.start : a.stop] = block_ab.T
    gram[d, :d] = h @ X
    gram[:d, d] = gram[d, :d]
    gram[d, d] = h.sum()
    return gram


def _column_moments(X: NDArray[np.float64]) -> list[Moments]:
    n = X.shape[0]
    mean = X.mean(axis=0)
    m2 = ((X - mean) ** 2).sum(axis=0)
    return [Moments(float(n), float(mean[j]), float(m2[j])) for j in range(X.shape[1])]
