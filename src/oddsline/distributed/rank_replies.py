"""A partition's replies to open rank queries, gathered batch by batch from rows already being read.

``reply_partition`` reads a partition for the replies alone (a round of ``order_stats.py``); the first
Newton pass gathers them beside its sums (``kernel.newton_partition``), which saves the medians of columns
no training row misses a pass of their own (``feature_fit.PendingFills``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..features.datetime_parts import microseconds
from ..features.values import as_float
from .order_stats import RankQuery, RoundReply, combine_replies, reply_to, reply_to_values

__all__ = ["QueryKey", "RankReplies"]

QueryKey = tuple[str, int]  # (column, rank)


@dataclass
class RankReplies:
    queries: dict[QueryKey, RankQuery]
    kinds: dict[str, str] = field(default_factory=dict)  # "datetime" for timestamp columns
    # One dict of replies per partition, in partition order; ``add`` folds a batch into the last. The
    # partitions' replies are merged once, at the end (``merge_replies``), not pairwise as they arrive.
    partitions: list[dict[QueryKey, RoundReply]] = field(default_factory=lambda: [{}])

    def add(self, table: pa.Table) -> None:
        """The replies of a batch's rows, combined with those of the partition's batches before."""
        current = self.partitions[-1]
        for name in sorted({name for name, _ in self.queries}):
            data = table.column(name)
            values = microseconds(name, data) if self.kinds.get(name) == "datetime" else as_float(name, data)
            values = values[~np.isnan(values)]
            by_range: dict[tuple[int, int], RoundReply] = {}  # a median's two ranks share their range
            for key, query in self.queries.items():
                if key[0] == name:
                    span = (query.low, query.high)
                    if span not in by_range:
                        by_range[span] = reply_to_values(query, values)
                    current[key] = combine_replies(query, current.get(key), by_range[span])

    def merge(self, other: RankReplies) -> RankReplies:
        return RankReplies(self.queries, self.kinds, self.partitions + other.partitions)

    def of_partition(self) -> dict[QueryKey, RoundReply]:
        """The one partition's reply to each query (nothing below and nothing inside where it had no rows)."""
        (current,) = self.partitions
        empty = np.empty(0, np.uint64)
        return {key: current.get(key) or reply_to(query, empty) for key, query in self.queries.items()}

    def per_query(self) -> dict[QueryKey, list[RoundReply]]:
        """Each query's replies, one per partition that had rows, in partition order."""
        return {key: [p[key] for p in self.partitions if key in p] for key in self.queries}
