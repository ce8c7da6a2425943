"""Exact order statistics in passes, against np.sort / np.median / np.quantile on the same values."""

from __future__ import annotations

import numpy as np
import pytest

from oddsline.distributed import order_stats as os_
from oddsline.distributed.order_stats import (
    RankQuery,
    combine_replies,
    first_range,
    linear_quantile,
    median_of,
    merge_replies,
    order_key,
    quantile_ranks,
    reply_to,
)


def _select(partitions: list[np.ndarray], rank: int, extra: dict[int, int] | None = None, sample=None, total=0):
    query = RankQuery(rank)
    if sample is not None:
        first_range(query, total, sample)
    for _ in range(8):
        if query.answer is not None:
            return query
        replies = []
        for values in partitions:
            reply = None
            for batch in np.array_split(values, 3):  # a partition's batches, folded as a worker folds them
                reply = combine_replies(query, reply, reply_to(query, order_key(batch)))
            replies.append(reply)
        merge_replies(query, replies, extra)
    return query


@pytest.mark.parametrize("seed", range(6))
def test_every_rank_is_the_sorted_value(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.concatenate(
        [rng.normal(size=300) * 10.0 ** rng.integers(-3, 4), np.zeros(50), -np.zeros(5), [1e300, -1e-300]]
    )
    values = np.round(values, int(rng.integers(0, 4)))  # ties
    parts = np.array_split(rng.permutation(values), [10, 10, 200])  # uneven, one empty
    ordered = np.sort(values)
    for rank in [*rng.integers(0, values.size, 15).tolist(), 0, values.size - 1]:
        query = _select(list(parts), rank)
        assert query.answer == ordered[rank]


def test_histogram_rounds_when_a_partition_has_too_many_distinct_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os_, "MAX_DISTINCT", 16)
    rng = np.random.default_rng(1)
    values = rng.lognormal(size=5000)
    parts = np.array_split(values, 4)
    for rank in (0, 1, 2499, 2500, 4999):
        query = _select(parts, rank)
        assert query.answer == np.sort(values)[rank]
        assert query.rounds > 1  # it had to narrow by histograms


def test_weighted_extra_keys_count_as_repeated_values() -> None:
    rng = np.random.default_rng(2)
    present = rng.normal(size=400)
    fill, copies = float(np.median(present)), 250
    full = np.sort(np.concatenate([present, np.full(copies, fill)]))
    extra = {int(order_key(np.array([fill]))[0]): copies}
    for rank in (0, 200, 399, 400, 500, 649):
        assert _select(np.array_split(present, 3), rank, extra).answer == full[rank]


def test_a_sample_range_that_misses_still_finds_the_answer() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=2000)
    misleading = rng.normal(loc=5, size=500)  # a "sample" from elsewhere: the first range is wrong
    for rank in (10, 1000, 1990):
        query = _select(np.array_split(values, 5), rank, sample=misleading, total=values.size)
        assert query.answer == np.sort(values)[rank]
    fair = rng.choice(values, 500, replace=False)
    query = _select(np.array_split(values, 5), 1000, sample=fair, total=values.size)
    assert query.answer == np.sort(values)[1000] and query.rounds == 1  # one pass, as the docs promise


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101, 1000])
def test_median_and_linear_quantiles_are_numpys_to_the_bit(n: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.normal(size=n) * 1e3
    ordered = np.sort(values)
    assert median_of(ordered[(n - 1) // 2], ordered[n // 2]) == np.median(values)
    for q in [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0, *np.linspace(0, 1, 11)[1:-1]]:
        below, above, gamma = quantile_ranks(n, float(q))
        assert linear_quantile(ordered[below], ordered[above], gamma) == np.quantile(values, q)


def test_a_reply_from_values_equals_the_reply_from_their_keys() -> None:
    """Comparing floats with the range's ends (``reply_to_values``) counts what comparing keys does,
    at signed zeros, infinities and ranges that start or end among NaN bit patterns."""
    from oddsline.distributed.order_stats import reply_to_values

    rng = np.random.default_rng(3)
    special = np.array([-0.0, 0.0, np.inf, -np.inf, 5e-324, -5e-324, 1.0, -1.0])
    values = np.concatenate([rng.normal(size=3000), rng.choice(special, 500), np.round(rng.normal(size=500), 1)])
    keys = order_key(values)
    top = (1 << 64) - 1
    ends = [0, top, *(int(k) for k in order_key(special)), *(int(k) + d for k in order_key(special) for d in (-1, 1))]
    ends += [int(k) for k in rng.choice(keys, 20)]
    for low in ends:
        for high in ends:
            if not 0 <= low <= high <= top:
                continue
            for histogram in (False, True):
                query = RankQuery(0, low, high)
                a, b = reply_to_values(query, values, histogram), reply_to(query, keys, histogram)
                assert a.below == b.below, (low, high)
                if histogram:
                    assert np.array_equal(a.histogram, b.histogram), (low, high)
                else:
                    assert np.array_equal(a.inside.keys, b.inside.keys) and np.array_equal(
                        a.inside.counts, b.inside.counts
                    )
