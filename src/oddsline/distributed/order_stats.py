"""Exact order statistics of a column too large to hold, in a few passes with bounded memory.

Each float64 maps to a 64-bit key with the same order (``order_key``), so "the k-th smallest value" is a
search in key space. A query keeps a key range [low, high] known to hold its answer. A round is one pass over the data: every partition reports, per query, how many
of its keys lie below the range and either the distinct keys inside with their counts (when there are at
most ``MAX_DISTINCT`` of them) or a 4096-bin histogram of the range. Merged in partition order, distinct
keys answer the query at once; a histogram narrows the range to one bin, 1/4096 of it, and the next
round tries again. A first range taken from a row sample holds the answer almost always, so a quantile
usually costs one pass; the worst case is six (64 bits, 12 per histogram round, then one to collect).

Values given once for many rows (the fill of ``m`` missing values) join as a weighted key at the driver,
without touching the data. The answers are the exact order statistics ``np.sort(values)[rank]``; the
functions at the end turn them into ``np.median`` and ``np.quantile`` (linear), with numpy's arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MAX_DISTINCT",
    "KeyCounts",
    "RankQuery",
    "RoundReply",
    "combine_replies",
    "first_range",
    "key_value",
    "linear_quantile",
    "median_of",
    "merge_replies",
    "order_key",
    "quantile_ranks",
    "reply_to",
    "reply_to_values",
]

MAX_DISTINCT = 1 << 20  # distinct keys one partition sends for one query; beyond it, a histogram
_BINS_BITS = 12
_SIGN = np.uint64(1 << 63)
_TOP = (1 << 64) - 1


def order_key(values: NDArray[np.float64]) -> NDArray[np.uint64]:
    """Keys that sort as the values do (-0.0 is 0.0). NaN must have been removed."""
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.uint64)
    negative = (bits >> np.uint64(63)).astype(bool)
    return np.where(negative, ~bits, bits | _SIGN)


_MINUS_INF_KEY = int(order_key(np.array([-np.inf]))[0])
_PLUS_INF_KEY = int(order_key(np.array([np.inf]))[0])


def key_value(key: int) -> float:
    k = np.uint64(key)
    bits = k & ~_SIGN if k & _SIGN else ~k
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


@dataclass
class KeyCounts:
    """Distinct keys (ascending) and how many values each stands for."""

    keys: NDArray[np.uint64]
    counts: NDArray[np.int64]

    @classmethod
    def of(cls, keys: NDArray[np.uint64]) -> KeyCounts:
        unique, counts = np.unique(keys, return_counts=True)
        return cls(unique, counts.astype(np.int64))

    @classmethod
    def merged(cls, parts: list[KeyCounts]) -> KeyCounts:
        if not parts:
            return cls(np.empty(0, np.uint64), np.empty(0, np.int64))
        keys = np.concatenate([p.keys for p in parts])
        counts = np.concatenate([p.counts for p in parts])
        unique, inverse = np.unique(keys, return_inverse=True)
        return cls(unique, np.bincount(inverse, weights=counts, minlength=unique.size).astype(np.int64))


@dataclass
class RankQuery:
    """The value of rank ``rank`` (0-based, ascending) in a multiset of ``total`` values."""

    rank: int
    low: int = 0
    high: int = _TOP
    answer: float | None = None
    rounds: int = 0

    @property
    def shift(self) -> int:
        return max(0, (self.high - self.low).bit_length() - _BINS_BITS)


@dataclass
class RoundReply:
    """One partition's answer to one query in one round."""

    below: int
    inside: KeyCounts | None = None  # the distinct keys in [low, high] with counts, or
    histogram: NDArray[np.int64] | None = None  # counts per bin of (key - low) >> shift

    def _with_below(self, below: int) -> RoundReply:
        return RoundReply(below, self.inside, self.histogram)

    @property
    def n_inside(self) -> int:
        if self.inside is not None:
            return int(self.inside.counts.sum())
        assert self.histogram is not None
        return int(self.histogram.sum())


def reply_to(query: RankQuery, keys: NDArray[np.uint64], force_histogram: bool = False) -> RoundReply:
    """A partition's reply from the keys of its values (all of its rows, in any order)."""
    low, high = np.uint64(query.low), np.uint64(query.high)
    below = int(np.count_nonzero(keys < low))
    inside = keys[(keys >= low) & (keys <= high)]
    if not force_histogram:
        counted = KeyCounts.of(inside)
        if counted.keys.size <= MAX_DISTINCT:
            return RoundReply(below, inside=counted)
    return RoundReply(below, histogram=_histogram(query, inside.astype(np.uint64), np.ones(inside.size, np.int64)))


def reply_to_values(query: RankQuery, values: NDArray[np.float64], force_histogram: bool = False) -> RoundReply:
    """``reply_to`` from the values themselves (no NaN): the range's ends are compared as floats, so
    only the values inside it are mapped to keys. On a pass over every row this is most of the work."""
    low, high = max(query.low, _MINUS_INF_KEY), min(query.high, _PLUS_INF_KEY)
    if low > high:  # a range of NaN bit patterns only: nothing inside, everything on one side
        below = values.size if query.low > _PLUS_INF_KEY else 0
        return reply_to(query, np.empty(0, np.uint64), force_histogram)._with_below(below)
    low_value, high_value = key_value(low), key_value(high)
    below = int(np.count_nonzero(values < low_value))
    inside = values[(values >= low_value) & (values <= high_value)]
    return reply_to(query, order_key(inside), force_histogram)._with_below(below)


def combine_replies(query: RankQuery, a: RoundReply | None, b: RoundReply) -> RoundReply:
    """Two replies of one worker as one (a partition's batches, folded as they are read)."""
    if a is None:
        return b
    below = a.below + b.below
    if a.inside is not None and b.inside is not None:
        merged = KeyCounts.merged([a.inside, b.inside])
        if merged.keys.size <= MAX_DISTINCT:
            return RoundReply(below, inside=merged)
        return RoundReply(below, histogram=_histogram(query, merged.keys, merged.counts))
    histogram = np.zeros(((query.high - query.low) >> query.shift) + 1, np.int64)
    for r in (a, b):
        if r.histogram is not None:
            histogram += r.histogram
        elif r.inside is not None:
            histogram += _histogram(query, r.inside.keys, r.inside.counts)
    return RoundReply(below, histogram=histogram)


def _histogram(query: RankQuery, keys: NDArray[np.uint64], counts: NDArray[np.int64]) -> NDArray[np.int64]:
    n_bins = ((query.high - query.low) >> query.shift) + 1
    bins = ((keys - np.uint64(query.low)) >> np.uint64(query.shift)).astype(np.int64)
    return np.bincount(bins, weights=counts, minlength=n_bins).astype(np.int64)


def merge_replies(query: RankQuery, replies: list[RoundReply], extra: dict[int, int] | None = None) -> None:
    """Fold one round's replies (in partition order) and the weighted extra keys into the query: answer
    it, or narrow its range for the next round."""
    query.rounds += 1
    below = sum(r.below for r in replies)
    weighted = {k: m for k, m in (extra or {}).items() if m > 0}
    below += sum(m for k, m in weighted.items() if k < query.low)
    inside_extra = {k: m for k, m in weighted.items() if query.low <= k <= query.high}
    offset = query.rank - below  # rank within the range, counted from its low end
    if all(r.inside is not None for r in replies):
        parts = [r.inside for r in replies if r.inside is not None]
        if inside_extra:
            parts.append(_key_counts(inside_extra))
        merged = KeyCounts.merged(parts)
        total = int(merged.counts.sum())
        if 0 <= offset < total:
            at = int(np.searchsorted(np.cumsum(merged.counts), offset, side="right"))
            query.answer = key_value(int(merged.keys[at]))
        elif offset < 0:  # the sample's range started too high: the answer lies below it
            query.low, query.high = 0, query.low - 1
        else:
            query.low, query.high = query.high + 1, _TOP
        return
    histogram = np.zeros(((query.high - query.low) >> query.shift) + 1, np.int64)
    for r in replies:
        if r.histogram is not None:
            histogram += r.histogram
        elif r.inside is not None:
            histogram += _histogram(query, r.inside.keys, r.inside.counts)
    if inside_extra:
        extra_counts = _key_counts(inside_extra)
        histogram += _histogram(query, extra_counts.keys, extra_counts.counts)
    b = int(np.searchsorted(np.cumsum(histogram), offset, side="right"))
    start = query.low + (b << query.shift)
    query.low, query.high = start, min(query.high, start + (1 << query.shift) - 1)


def _key_counts(weighted: dict[int, int]) -> KeyCounts:
    keys = sorted(weighted)
    return KeyCounts(np.array(keys, dtype=np.uint64), np.array([weighted[k] for k in keys], np.int64))


def first_range(query: RankQuery, total: int, sample: NDArray[np.float64]) -> None:
    """Start the query at a range of sample order statistics that holds its rank with high probability."""
    s = sample.size
    if s < 100 or total <= 0:
        return
    ordered = np.sort(sample)
    f = query.rank / max(total - 1, 1)
    spread = 5.0 * math.sqrt(max(f * (1 - f), 1.0 / s) * s) + 2
    lo = ordered[max(0, math.floor(f * (s - 1) - spread))]
    hi = ordered[min(s - 1, math.ceil(f * (s - 1) + spread))]
    query.low, query.high = int(order_key(np.array([lo]))[0]), int(order_key(np.array([hi]))[0])


def median_of(lower: float, upper: float) -> float:
    """``np.median`` from its two middle order statistics (the same value twice when the count is odd)."""
    return lower if lower == upper else float(np.mean(np.array([lower, upper])))


def quantile_ranks(n: int, q: float) -> tuple[int, int, float]:
    """(rank below, rank above, weight) of numpy's linear quantile ``q`` of ``n`` values."""
    virtual = np.asarray((n - 1) * np.float64(q))
    previous = int(np.floor(virtual))
    below = min(max(previous, 0), n - 1)
    above = min(max(previous + 1, 0), n - 1)
    gamma = float(virtual - np.floor(virtual))
    return below, above, gamma


def linear_quantile(a: float, b: float, gamma: float) -> float:
    """numpy's ``_lerp``: the same expression, so the result is numpy's to the last bit."""
    diff = b - a
    if gamma >= 0.5:
        return float(b - diff * (1 - gamma))
    return float(a + diff * gamma)
