"""The summary pass: what fitting the features needs from every training row, in mergeable pieces.

Per column: numbers keep counts, range and moments (merged by Chan's formula); categories keep each
level's count; booleans their present count and number of trues. Beside them: the target's counts, the
row count of each side, a bottom-k sample of training rows and of held-out rows (the rows with the
smallest position hashes: a uniform sample, the same whatever the partitioning), and the bottom-k sketch
of training-row content hashes that ``evaluate`` uses to spot training rows (``overlap.py``).

A partition's summary is built batch by batch; summaries merge in partition order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .._exceptions import SchemaError
from ..features import TransformReport
from ..features.boolean import FittedBoolean
from ..features.categorical import level_counts
from ..features.datetime_parts import datetime_parts, microseconds
from ..features.values import as_float
from ..io import concat_rows
from ..overlap import SKETCH_SIZE, row_hashes
from ..sources import Partition
from .job import Job, row_batches, unit_interval
from .target_folds import count_levels, fold_of

__all__ = [
    "SAMPLE_ROWS",
    "DatetimeSummary",
    "Moments",
    "NumericSummary",
    "Summary",
    "sample_width",
    "samples_complete",
    "summarise_partition",
]

SAMPLE_ROWS = 50_000


@dataclass
class Moments:
    """Count, mean and sum of squared deviations, merged exactly as Chan et al. (1979)."""

    n: float = 0.0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: NDArray[np.float64]) -> Moments:
        if values.size == 0:
            return cls()
        mean = float(values.mean())
        return cls(float(values.size), mean, float(np.sum((values - mean) ** 2)))

    @classmethod
    def constant(cls, value: float, count: float) -> Moments:
        return cls(float(count), float(value), 0.0) if count else cls()

    def merge(self, other: Moments) -> Moments:
        if not other.n:
            return self
        if not self.n:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        return Moments(n, mean, self.m2 + other.m2 + delta * delta * (self.n * other.n / n))

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.n) if self.n else 0.0


@dataclass
class NumericSummary:
    present: int = 0
    missing: int = 0
    infinite: int = 0
    low: float = math.inf
    high: float = -math.inf
    raw: Moments = field(default_factory=Moments)
    logged: Moments = field(default_factory=Moments)  # of log1p(value), where the spec asks for it

    def add(self, values: NDArray[np.float64], log1p: bool) -> None:
        missing = np.isnan(values)
        present = values[~missing]
        self.missing += int(missing.sum())
        self.present += int(present.size)
        finite = present[np.isfinite(present)]
        self.infinite += int(present.size - finite.size)
        if finite.size:
            self.low = min(self.low, float(finite.min()))
            self.high = max(self.high, float(finite.max()))
        self.raw = self.raw.merge(Moments.of(finite))
        if log1p:
            with np.errstate(invalid="ignore", divide="ignore"):
                self.logged = self.logged.merge(Moments.of(np.log1p(finite)))

    def merge(self, other: NumericSummary) -> NumericSummary:
        return NumericSummary(
            self.present + other.present,
            self.missing + other.missing,
            self.infinite + other.infinite,
            min(self.low, other.low),
            max(self.high, other.high),
            self.raw.merge(other.raw),
            self.logged.merge(other.logged),
        )


@dataclass
class DatetimeSummary:
    """A timestamp column in microseconds since the epoch: counts, range, moments and each part's values."""

    present: int = 0
    missing: int = 0
    high: float = -math.inf
    micros: Moments = field(default_factory=Moments)
    parts: dict[str, set[int]] = field(default_factory=dict)

    def add(self, micros: NDArray[np.float64]) -> None:
        missing = np.isnan(micros)
        present = micros[~missing]
        self.missing += int(missing.sum())
        self.present += int(present.size)
        if present.size:
            self.high = max(self.high, float(present.max()))
            self.micros = self.micros.merge(Moments.of(present))
            for part, values in datetime_parts(present).items():
                self.parts.setdefault(part, set()).update(int(v) for v in np.unique(values))

    def merge(self, other: DatetimeSummary) -> DatetimeSummary:
        parts = {k: self.parts.get(k, set()) | other.parts.get(k, set()) for k in {**self.parts, **other.parts}}
        return DatetimeSummary(
            self.present + other.present,
            self.missing + other.missing,
            max(self.high, other.high),
            self.micros.merge(other.micros),
            parts,
        )


@dataclass
class Summary:
    """One partition's (or, merged, the whole source's) summary."""

    rows: dict[str, int] = field(default_factory=lambda: {"train": 0, "test": 0, "dropped": 0})
    target_counts: dict[Any, int] = field(default_factory=dict)
    numeric: dict[str, NumericSummary] = field(default_factory=dict)
    levels: dict[str, dict[str, int]] = field(default_factory=dict)
    booleans: dict[str, tuple[int, float]] = field(default_factory=dict)  # (present, trues)
    datetimes: dict[str, DatetimeSummary] = field(default_factory=dict)
    targets: dict[str, dict[tuple[str, int, Any], int]] = field(default_factory=dict)  # target encoding
    refused: dict[str, str] = field(default_factory=dict)  # boolean column -> the error of its first bad value
    train_sample: pa.Table | None = None
    train_sample_hash: NDArray[np.uint64] = field(default_factory=lambda: np.empty(0, np.uint64))
    test_sample: pa.Table | None = None
    test_sample_hash: NDArray[np.uint64] = field(default_factory=lambda: np.empty(0, np.uint64))
    sketch: NDArray[np.uint64] = field(default_factory=lambda: np.empty(0, np.uint64))

    def merge(self, other: Summary) -> Summary:
        out = Summary()
        out.rows = {k: self.rows[k] + other.rows[k] for k in self.rows}
        out.target_counts = _add_counts(self.target_counts, other.target_counts)
        out.numeric = {
            k: self.numeric.get(k, NumericSummary()).merge(other.numeric.get(k, NumericSummary()))
            for k in {**self.numeric, **other.numeric}
        }
        out.levels = {
            k: _add_counts(self.levels.get(k, {}), other.levels.get(k, {})) for k in {**self.levels, **other.levels}
        }
        out.booleans = {
            k: tuple(
                a + b for a, b in zip(self.booleans.get(k, (0, 0.0)), other.booleans.get(k, (0, 0.0)), strict=True)
            )  # type: ignore[misc]
            for k in {**self.booleans, **other.booleans}
        }
        out.datetimes = {
            k: self.datetimes.get(k, DatetimeSummary()).merge(other.datetimes.get(k, DatetimeSummary()))
            for k in {**self.datetimes, **other.datetimes}
        }
        out.refused = {**other.refused, **self.refused}  # the first partition's error wins
        out.targets = {
            k: _add_counts(self.targets.get(k, {}), other.targets.get(k, {})) for k in {**self.targets, **other.targets}
        }
        out.train_sample, out.train_sample_hash = _bottom(
            self.train_sample, self.train_sample_hash, other.train_sample, other.train_sample_hash
        )
        out.test_sample, out.test_sample_hash = _bottom(
            self.test_sample, self.test_sample_hash, other.test_sample, other.test_sample_hash
        )
        out.sketch = np.unique(np.concatenate([self.sketch, other.sketch]))[:SKETCH_SIZE]
        return out


def summarise_partition(
    partition: Partition, job: Job, sketch_columns: list[str], sample_width: float = 1.0
) -> Summary:
    """The summary of one partition's rows (both sides: the held-out rows give the test sample). Only the
    rows within ``sample_width`` of the start of their side are candidates for the samples
    (``sample_width``)."""
    spec_kinds = {c.name: c for c in job.spec.columns if c.kind != "interaction"}
    out = Summary()
    for batch in row_batches(partition, job, side="all"):
        table, hashes = batch.table, batch.position_hash
        held = unit_interval(hashes) < job.test_size if job.test_size > 0 else np.zeros(table.num_rows, bool)
        part = Summary()
        train, test = table.filter(pa.array(~held)), table.filter(pa.array(held))
        part.rows["train"], part.rows["test"], part.rows["dropped"] = train.num_rows, test.num_rows, batch.dropped
        part.target_counts = {
            item["values"]: int(item["counts"]) for item in pc.value_counts(train.column(job.target)).to_pylist()
        }
        train_hashes, test_hashes = hashes[~held], hashes[held]
        for name, column in spec_kinds.items():
            data = train.column(name)
            if column.kind in ("numeric", "passthrough"):
                summary = NumericSummary()
                summary.add(as_float(name, data), bool(column.settings.get("log1p", False)))
                part.numeric[name] = summary
            elif column.kind == "categorical":
                part.levels[name] = level_counts(data)
            elif column.kind == "datetime":
                stamps = DatetimeSummary()
                stamps.add(microseconds(name, data))
                part.datetimes[name] = stamps
            elif column.kind == "target":
                folds = fold_of(train_hashes, int(column.settings["folds"]))
                part.targets[name] = count_levels(data, train.column(job.target), folds)
            elif column.kind == "boolean":
                out_ = np.zeros((len(data), 2))
                try:
                    FittedBoolean(name, indicator=True, fill=0.0).encode(
                        pa.table({name: data}), out_, TransformReport()
                    )
                except SchemaError as exc:  # a third value: the caller decides (re-infer or refuse)
                    part.refused[name] = f"{batch.where}: {exc}"
                    continue
                present = out_[:, 1] == 0
                part.booleans[name] = (int(present.sum()), float(out_[present, 0].sum()))
        if sample_width < 1.0:
            train, train_hashes = _candidates(train, train_hashes, job.test_size + sample_width)
            test, test_hashes = _candidates(test, test_hashes, sample_width)
        part.train_sample, part.train_sample_hash = _bottom(None, np.empty(0, np.uint64), train, train_hashes)
        part.test_sample, part.test_sample_hash = _bottom(None, np.empty(0, np.uint64), test, test_hashes)
        if train.num_rows:
            part.sketch = np.unique(row_hashes(train, sketch_columns))[:SKETCH_SIZE]
        out = out.merge(part)
    return out


def sample_width(total_rows: int | None) -> float:
    """How far into each side of the split (in position-hash units of [0, 1)) the row samples can reach.

    The samples are the rows with the smallest hashes on each side: held-out rows lie in [0, test_size),
    training rows from test_size up. Of ``total_rows`` rows, about 2 * SAMPLE_ROWS fall within
    2 * SAMPLE_ROWS / total_rows of a side's start, 200 standard deviations more than a sample needs,
    so each partition sends only those as candidates instead of up to SAMPLE_ROWS rows. That it held
    is checked on the merged summary (``samples_complete``). 1.0 (every row a candidate) where the row
    count is unknown before reading (CSV files, data frames)."""
    if not total_rows:
        return 1.0
    return min(1.0, 2.0 * SAMPLE_ROWS / total_rows)


def samples_complete(summary: Summary) -> bool:
    """Whether each merged sample holds min(SAMPLE_ROWS, rows on its side): then it is the bottom-k."""
    train = 0 if summary.train_sample is None else summary.train_sample.num_rows
    test = 0 if summary.test_sample is None else summary.test_sample.num_rows
    return train == min(SAMPLE_ROWS, summary.rows["train"]) and test == min(SAMPLE_ROWS, summary.rows["test"])


def _candidates(table: pa.Table, hashes: NDArray[np.uint64], below: float) -> tuple[pa.Table, NDArray[np.uint64]]:
    keep = unit_interval(hashes) < below
    if keep.all():
        return table, hashes
    return table.filter(pa.array(keep)), hashes[keep]


def _add_counts(a: dict[Any, int], b: dict[Any, int]) -> dict[Any, int]:
    out = dict(a)
    for key, n in b.items():
        out[key] = out.get(key, 0) + n
    return out


def _bottom(
    table_a: pa.Table | None, hash_a: NDArray[np.uint64], table_b: pa.Table | None, hash_b: NDArray[np.uint64]
) -> tuple[pa.Table | None, NDArray[np.uint64]]:
    """The rows of both with the SAMPLE_ROWS smallest hashes, ordered by hash."""
    tables = [t for t in (table_a, table_b) if t is not None and t.num_rows]
    if not tables:
        return table_a if table_a is not None else table_b, np.empty(0, np.uint64)
    hashes = np.concatenate([h for t, h in ((table_a, hash_a), (table_b, hash_b)) if t is not None and t.num_rows])
    joined = concat_rows(tables) if len(tables) > 1 else tables[0]
    order = np.argsort(hashes, kind="stable")[:SAMPLE_ROWS]
    return joined.take(pa.array(order)), hashes[order]
