"""The per-batch kernel both engines run: a batch's share of the loss, gradient and Hessian at theta.

Newton needs only sums over rows: sum w l(eta), X~^T (w (p - y)) and X~^T diag(w p (1 - p)) X~, with
X~ = [X, 1]. A partition adds its batches' sums in file order and the driver adds the partitions' sums in
partition order, so a rerun on the same partitioning gives the same bits whatever the thread or worker
timing. The first pass also gathers the design's column moments (the reference point of ``explain``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ..core.link import expit
from ..core.loss import binomial_loss_gradient
from ..core.one_hot import add_one_hot_rows, mirror_upper, one_hot_matrix
from ..features import FittedFeatures, TransformReport
from ..sources import Partition
from ..target import BinaryTarget
from .job import Job, row_batches
from .order_stats import RankQuery
from .rank_replies import QueryKey, RankReplies
from .summary import Moments
from .target_folds import TargetFolds

__all__ = ["KernelLayout", "OneHotCodes", "Sums", "batch_sums", "encode_labels", "newton_partition"]


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
    ranks: RankReplies | None = None  # replies to rank queries from the same rows, when asked

    def merge(self, other: Sums) -> Sums:
        ranks = (
            other.ranks if self.ranks is None else self.ranks if other.ranks is None else self.ranks.merge(other.ranks)
        )
        if not self.rows:
            return dataclasses.replace(other, ranks=ranks)
        if not other.rows:
            return dataclasses.replace(self, ranks=ranks)
        # Added in place: the accumulator of a fold owns its arrays (d x d each; a wide design's are large).
        hessian = None
        if self.hessian is not None and other.hessian is not None:
            self.hessian += other.hessian
            hessian = self.hessian
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
            ranks,
        )


def encode_labels(target: BinaryTarget, column: pa.ChunkedArray) -> NDArray[np.float64]:
    """``target.encode`` of a column, each distinct label looked up once (the same errors)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    per_label = target.encode(pa.table({target.name: encoded.dictionary}))
    return np.asarray(per_label[encoded.indices.to_numpy(zero_copy_only=False)], dtype=np.float64)


@dataclass(frozen=True)
class KernelLayout:
    """Where each design column sits in the kernel's matrix: the dense columns first, column-major (one
    contiguous block for BLAS), then the one-hot blocks, which the kernel keeps as level codes
    (``OneHotCodes``) and never writes out as 0/1 columns. ``order[j]`` is the kernel position of the
    model's design column j; sums are mapped back before they leave a task."""

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

    def design(
        self, features: FittedFeatures, table: pa.Table, report: TransformReport
    ) -> tuple[NDArray[np.float64], OneHotCodes]:
        """``features.transform`` in this layout: the dense columns (F order) and the one-hot blocks'
        codes, with the same values, checks and counts."""
        features.check_columns(table.column_names, report, table.num_rows)
        report.rows += table.num_rows
        n = table.num_rows
        dense = np.zeros((n, self.n_dense), order="F")
        codes_of = []
        for column, block in self.blocks:
            if column.kind != "categorical":
                column.encode(table, dense[:, block], report)
                continue
            level = column.codes(table.column(column.name), report)  # counted even for an empty block
            if block.stop > block.start:
                codes_of.append(np.where(level >= 0, level + (block.start - self.n_dense), -1))
        codes = np.empty((n, len(codes_of)), dtype=np.int32)
        for i, level in enumerate(codes_of):
            codes[:, i] = level
        n_one_hot = int(self.order.size) - self.n_dense
        return dense, OneHotCodes(codes, n_one_hot)

    def position(self, target_encoded: str) -> int:
        """The kernel column of a target-encoded column (one design column, among the dense ones)."""
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


@dataclass(frozen=True)
class OneHotCodes:
    """One-hot blocks as codes: ``codes[i, b]`` is row i's column among the ``n_columns`` one-hot design
    columns in block b (blocks in layout order, so codes of later blocks are larger), or -1."""

    codes: NDArray[np.int32]
    n_columns: int

    @classmethod
    def none(cls, rows: int) -> OneHotCodes:
        return cls(np.empty((rows, 0), dtype=np.int32), 0)

    def offsets(self, beta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each row's sum of its levels' coefficients: the one-hot columns' share of X @ beta."""
        if not self.codes.shape[1]:
            return np.zeros(self.codes.shape[0])
        padded: NDArray[np.float64] = np.r_[beta, 0.0]  # code -1 reads the 0 appended
        out: NDArray[np.float64] = padded[self.codes].sum(axis=1)
        return out

    def column_sums(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """onehot^T @ values."""
        out = np.zeros(self.n_columns + 1)
        for b in range(self.codes.shape[1]):
            out += np.bincount(self.codes[:, b] + 1, weights=values, minlength=self.n_columns + 1)
        return out[1:]

    def counts(self) -> NDArray[np.float64]:
        return self.column_sums(np.ones(self.codes.shape[0]))

    def dense(self) -> NDArray[np.float64]:
        """The 0/1 columns themselves (the tests' view)."""
        return one_hot_matrix(self.codes, self.n_columns)


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
    ranks: dict[QueryKey, RankQuery] | None = None,
) -> Sums:
    """One partition's training-row sums at ``theta`` (a worker task). Target-encoded columns take
    their out-of-fold values (``cross_fitted``), as the in-memory training design does. With ``ranks``,
    the partition's replies to those rank queries come along, from the same rows."""
    out = Sums()
    replies = RankReplies(ranks) if ranks else None
    layout = KernelLayout.of(features)
    theta_k = layout.to_kernel(theta)
    # The partition's Hessian is summed in one set of arrays across its batches and assembled once.
    gram = GramParts(layout.n_dense, int(layout.order.size) - layout.n_dense) if with_hessian else None
    for batch in row_batches(partition, job, side="train"):
        if not batch.table.num_rows:
            continue
        if replies is not None:
            replies.add(batch.table)
        report = TransformReport()
        X, one_hot = layout.design(features, batch.table, report)
        for folds in cross_fitted:
            X[:, layout.position(folds.name)] = folds.values(batch.table.column(folds.name), batch.position_hash)
        y = encode_labels(target, batch.table.column(job.target))
        weight = np.where(y == 1.0, class_weight[1], class_weight[0])
        part = batch_sums(X, y, weight, theta_k, with_hessian, one_hot, with_design, gram)
        part.report = report
        out = out.merge(part)
    out.ranks = replies
    if gram is not None and out.rows:
        out.hessian = gram.matrix()
    return layout.to_model(out) if out.rows else out


def batch_sums(
    X: NDArray[np.float64],
    y: NDArray[np.float64],
    weight: NDArray[np.float64],
    theta: NDArray[np.float64],
    with_hessian: bool = True,
    one_hot: OneHotCodes | None = None,
    with_design: bool = False,
    gram: GramParts | None = None,
) -> Sums:
    """The sums of one block of rows at theta (the math of every streamed pass). The design is
    [X, one-hot columns of ``one_hot``], and theta is [beta..., intercept] over it. With ``gram`` the
    Hessian is added to it rather than returned."""
    codes = one_hot or OneHotCodes.none(X.shape[0])
    k, L = X.shape[1], codes.n_columns
    part = Sums()
    eta = X @ theta[:k]
    eta += float(theta[-1])
    if L:
        eta += codes.offsets(theta[k : k + L])
    part.loss, g_eta = binomial_loss_gradient(eta, y, weight)
    d = k + L
    part.gradient = np.empty(d + 1)
    part.gradient[:k] = X.T @ g_eta
    part.gradient[k:d] = codes.column_sums(g_eta)
    part.gradient[d] = g_eta.sum()
    if with_hessian:
        p = expit(eta)
        h = weight * (p * (1.0 - p))
        if gram is None:
            part.hessian = _gram(X, h, codes)
        else:
            gram.add(X, h, codes)
    part.weight = float(weight.sum())
    part.weighted_positives = float(weight @ y)
    part.rows = X.shape[0]
    if with_design:
        part.design = _column_moments(X) + _one_hot_moments(codes)
    return part


def _gram(X: NDArray[np.float64], h: NDArray[np.float64], one_hot: OneHotCodes) -> NDArray[np.float64]:
    """[X, onehot, 1]^T diag(h) [X, onehot, 1] of one block of rows."""
    parts = GramParts(X.shape[1], one_hot.n_columns)
    parts.add(X, h, one_hot)
    return parts.matrix()


class GramParts:
    """[X, onehot, 1]^T diag(h) [X, onehot, 1] summed over batches in its parts: the dense x dense block
    by SYRK on sqrt(h)-scaled rows, the one-hot rows from the codes (``core/one_hot.py``; on 10 blocks of
    8 levels beside 30 numbers a quarter of a GEMM on the 0/1 columns), their pairs as an upper triangle
    until ``matrix`` mirrors it. A partition holds one of these and one (d + 1)^2 result, whatever its
    batches: with 4,000 one-hot columns each is 128 MB, and per-batch matrices and their sums were most
    of a wide fit's 3.8 GB."""

    def __init__(self, k: int, L: int) -> None:
        self.k, self.L = k, L
        self.dense = np.zeros((k, k))
        self.dense_sums = np.zeros(k)  # h @ X: the intercept's row
        self.total = 0.0
        self.one_hot = np.zeros((L, k + L)) if L else None

    def add(self, X: NDArray[np.float64], h: NDArray[np.float64], one_hot: OneHotCodes) -> None:
        scaled = X * np.sqrt(h)[:, None]
        self.dense += scaled.T @ scaled
        self.dense_sums += h @ X
        self.total += float(h.sum())
        if self.one_hot is not None:
            add_one_hot_rows(one_hot.codes, self.L, X, h, self.one_hot)

    def matrix(self) -> NDArray[np.float64]:
        k, L = self.k, self.L
        d = k + L
        gram = np.zeros((d + 1, d + 1))
        gram[:k, :k] = self.dense
        gram[d, :k] = self.dense_sums
        gram[d, d] = self.total
        if self.one_hot is not None:
            pairs = self.one_hot[:, k:]
            mirror_upper(pairs)
            gram[k:d, :k] = self.one_hot[:, :k]
            gram[:k, k:d] = self.one_hot[:, :k].T
            gram[k:d, k:d] = pairs
            gram[d, k:d] = np.diag(pairs)
            self.one_hot = None  # assembled once; its memory goes back now
        gram[:d, d] = gram[d, :d]
        return gram


def _column_moments(X: NDArray[np.float64]) -> list[Moments]:
    n = X.shape[0]
    mean = X.mean(axis=0)
    m2 = ((X - mean) ** 2).sum(axis=0)
    return [Moments(float(n), float(mean[j]), float(m2[j])) for j in range(X.shape[1])]


def _one_hot_moments(one_hot: OneHotCodes) -> list[Moments]:
    """The moments of 0/1 columns from their counts: c ones among n rows."""
    n = float(one_hot.codes.shape[0])
    out = []
    for count in one_hot.counts():
        mean = count / n
        out.append(Moments(n, mean, count * (1.0 - mean) ** 2 + (n - count) * mean**2))
    return out
