"""Counts of what the encoders did to inputs that did not look like the training rows.

Nothing is silently changed: every imputed missing value, unseen or rare category, out-of-range
number, unexpected column and (in batch scoring) unreadable value is counted here, by column, and the
counts travel with the scores (the
service exports them; monitoring alerts on them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["EVENTS", "TransformReport"]

EVENTS = ("imputed", "unseen", "rare", "out_of_range", "unexpected_column", "bad_value")


@dataclass
class TransformReport:
    rows: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, event: str, column: str, n: int = 1) -> None:
        if n:
            per_column = self.counts[event]
            per_column[column] = per_column.get(column, 0) + int(n)

    def merge(self, other: TransformReport) -> None:
        self.rows += other.rows
        for event, per_column in other.counts.items():
            for column, n in per_column.items():
                self.add(event, column, n)

    def to_dict(self) -> dict[str, object]:
        return {"rows": self.rows, **{event: dict(self.counts.get(event, {})) for event in EVENTS}}
