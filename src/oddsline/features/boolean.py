"""Boolean columns: one design column, 1 for true and 0 for false.

Accepted spellings (any case): true/false, yes/no, y/n, 1/0, t/f. A missing value gets its own
``<missing>`` column when the training rows had missing values; otherwise it is imputed with the
training majority and counted. Any other value is an error naming the column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .._exceptions import SchemaError
from .categorical import MISSING_LEVEL
from .partial import BatchScore, Rows, finish_batch, partial_sum, row_by_row
from .report import TransformReport
from .values import as_category, category_of, distinct_levels

__all__ = ["BOOLEAN_DEFAULTS", "FittedBoolean", "fit_boolean", "looks_boolean", "truth_of"]

BOOLEAN_DEFAULTS: dict[str, Any] = {}

_TRUTH = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "y": 1.0, "n": 0.0, "1": 1.0, "0": 0.0, "t": 1.0, "f": 0.0}


def truth_of(level: str) -> float | None:
    """1.0 or 0.0 for an accepted spelling of true or false (any case), None otherwise."""
    return _TRUTH.get(level.lower())


def _truth(name: str, level: str) -> float:
    value = _TRUTH.get(level.lower())
    if value is None:
        raise SchemaError(f"column {name!r} is boolean but holds {level!r}; use true/false, yes/no or 1/0")
    return value


def looks_boolean(data: pa.ChunkedArray) -> bool:
    levels = [v for v in pc.unique(as_category(data)).to_pylist() if v is not None]
    return (
        0 < len(levels) <= 2
        and all(v.lower() in _TRUTH for v in levels)
        and len({_TRUTH[v.lower()] for v in levels}) == len(levels)
    )


@dataclass(frozen=True)
class FittedBoolean:
    name: str
    indicator: bool  # training rows had missing values: they get a <missing> column
    fill: float  # else a missing value is imputed with the majority

    kind = "boolean"

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def design_names(self) -> list[str]:
        return [self.name] + ([f"{self.name}={MISSING_LEVEL}"] if self.indicator else [])

    def encode(self, table: pa.Table, out: NDArray[np.float64], report: TransformReport) -> None:
        levels, indices = distinct_levels(table.column(self.name))
        lookup = np.array([np.nan if v is None else _truth(self.name, v) for v in levels])
        v = lookup[indices]
        missing = np.isnan(v)
        if missing.any():
            if self.indicator:
                out[:, 1] = missing
                v[missing] = 0.0
            else:
                report.add("imputed", self.name, int(missing.sum()))
                v[missing] = self.fill
        out[:, 0] = v

    def encode_row(self, row: dict[str, Any], report: TransformReport) -> list[tuple[int, float]]:
        level = category_of(row[self.name])
        if level is None:
            if self.indicator:
                return [(1, 1.0)]
            report.add("imputed", self.name)
            return [(0, self.fill)] if self.fill else []
        value = _truth(self.name, level)
        return [(0, value)] if value else []

    def partial_scorer(self, coef: tuple[float, ...]) -> Callable[[dict[str, Any], TransformReport], float]:
        """The block's share of the log-odds for one row: true -> coef, false -> 0, by one dict lookup for
        bools, 0/1 and the lower-case spellings (True == 1 == 1.0 share a dict key)."""
        name, c0 = self.name, coef[0]
        fast: dict[Any, float] = {True: c0, False: 0.0}
        fast.update({spelling: c0 if truth else 0.0 for spelling, truth in _TRUTH.items()})
        plain = (bool, int, float, str)

        def score(row: dict[str, Any], report: TransformReport) -> float:
            raw = row[name]
            if raw.__class__ in plain:
                value = fast.get(raw)
                if value is not None:
                    return value
            return partial_sum(self.encode_row(row, report), coef)

        return score

    def batch_scorer(self, coef: tuple[float, ...]) -> BatchScore:
        """``partial_scorer`` for a list of rows: the plain spellings by one dict lookup each, the rest
        by the one-row scorer."""
        one, name, c0 = self.partial_scorer(coef), self.name, coef[0]
        fast: dict[Any, float] = {True: c0, False: 0.0}
        fast.update({spelling: c0 if truth else 0.0 for spelling, truth in _TRUTH.items()})

        def score_many(rows: Rows, report: TransformReport) -> NDArray[np.float64]:
            try:
                scores: list[float | None] = list(map(fast.get, rows.column(name)))
            except TypeError:  # an unhashable value: the one-row scorer refuses it
                return row_by_row(one)(rows, report)
            return finish_batch(rows, scores, one, report)

        return score_many

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "indicator": self.indicator, "fill": self.fill}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FittedBoolean:
        return cls(d["name"], bool(d["indicator"]), float(d["fill"]))


def fit_boolean(name: str, data: pa.ChunkedArray, options: dict[str, Any]) -> FittedBoolean:
    probe = FittedBoolean(name, indicator=True, fill=0.0)
    out = np.zeros((len(data), 2))
    probe.encode(pa.table({name: data}), out, TransformReport())
    present = out[:, 1] == 0
    if not present.any():
        raise SchemaError(f"column {name!r} has no values in the training rows; ignore it (--ignore {name})")
    majority = 1.0 if out[present, 0].mean() >= 0.5 else 0.0
    return FittedBoolean(name, indicator=bool((~present).any()), fill=majority)
