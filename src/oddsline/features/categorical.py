"""Categorical columns: one-hot over the training levels, a rare bucket, an unknown bucket.

``contract`` with training levels Month, Two year, Year gives design columns ``contract=Month``, ...
A missing value is its own level ``<missing>`` when the training rows had one. Levels seen fewer than
``min_frequency`` times share one column ``<rare>``. A value never seen in training falls in the
unknown bucket: no coefficient can be learned for it (no training row has it), so its block is all
zeros and the row scores on its other columns; each such value is counted (or, with
``unseen: error``, refused with the column named).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .._exceptions import SchemaError
from .partial import BatchScore, Rows, finish_batch, row_by_row
from .report import TransformReport
from .values import as_category, category_of, distinct_levels

__all__ = [
    "CATEGORICAL_DEFAULTS",
    "MISSING_LEVEL",
    "RARE_LEVEL",
    "UNKNOWN_LEVEL",
    "FittedCategorical",
    "fit_categorical",
    "fit_categorical_counts",
    "level_counts",
]

MISSING_LEVEL = "<missing>"
RARE_LEVEL = "<rare>"
UNKNOWN_LEVEL = "<unknown>"  # not a design column: the name of the all-zeros bucket in reports

CATEGORICAL_DEFAULTS: dict[str, Any] = {
    "min_frequency": 1,  # levels seen fewer times share the <rare> column
    "unseen": "bucket",  # a level not seen in training: bucket (all zeros, counted) | error
    # The level an unpenalised fit codes the others against (treatment coding); None: the first in sorted
    # order, as R. Penalised fits keep every level (the penalty identifies them). See identification.py.
    "reference": None,
}


@dataclass(frozen=True)
class FittedCategorical:
    name: str
    levels: tuple[str, ...]
    rare_levels: tuple[str, ...] = ()
    unseen: str = "bucket"
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    kind = "categorical"

    def __post_init__(self) -> None:
        index = {level: i for i, level in enumerate(self.levels)}
        rare = len(self.levels)
        index.update({level: rare for level in self.rare_levels})
        object.__setattr__(self, "_index", index)

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def design_names(self) -> list[str]:
        names = [f"{self.name}={level}" for level in self.levels]
        return names + ([f"{self.name}={RARE_LEVEL}"] if self.rare_levels else [])

    def codes(self, data: pa.ChunkedArray, report: TransformReport | None = None) -> NDArray[np.int64]:
        """Design-column index of each row's level; -1 for the unknown bucket."""
        levels, indices = distinct_levels(data)
        lookup = np.array([self._index.get(MISSING_LEVEL if v is None else v, -1) for v in levels])
        codes = lookup[indices]
        if report is not None:
            self._count(codes, report, levels, indices)
        return codes

    def _count(self, codes: NDArray[np.int64], report: TransformReport, dictionary: list[Any], indices: Any) -> None:
        unknown = codes < 0
        if unknown.any():
            if self.unseen == "error":
                value = dictionary[indices[np.flatnonzero(unknown)[0]]]
                raise SchemaError(
                    f"column {self.name!r}: {value!r} was not seen in training; map it to a known level "
                    "or set unseen: bucket in the spec"
                )
            report.add("unseen", self.name, int(unknown.sum()))
        if self.rare_levels:
            report.add("rare", self.name, int(np.sum(codes == len(self.levels))))

    def encode(self, table: pa.Table, out: NDArray[np.float64], report: TransformReport) -> None:
        codes = self.codes(table.column(self.name), report)
        rows = np.flatnonzero(codes >= 0)
        out[rows, codes[rows]] = 1.0

    def code_of(self, raw: Any, report: TransformReport) -> int:
        level = category_of(raw)
        code = self._index.get(MISSING_LEVEL if level is None else level, -1)
        if code < 0:
            if self.unseen == "error":
                raise SchemaError(
                    f"column {self.name!r}: {level!r} was not seen in training; map it to a known level "
                    "or set unseen: bucket in the spec"
                )
            report.add("unseen", self.name)
        elif code == len(self.levels):
            report.add("rare", self.name)
        return code

    def encode_row(self, row: dict[str, Any], report: TransformReport) -> list[tuple[int, float]]:
        code = self.code_of(row[self.name], report)
        return [(code, 1.0)] if code >= 0 else []

    def partial_scorer(self, coef: tuple[float, ...]) -> Callable[[dict[str, Any], TransformReport], float]:
        """The block's share of the log-odds for one row: its level's coefficient (a one-hot block's
        partial sum is exactly that one term), looked up in a single dict."""
        name, unseen_error = self.name, self.unseen == "error"
        by_level = {level: coef[code] for level, code in self._index.items()}
        rare = set(self.rare_levels)
        missing_value = by_level.get(MISSING_LEVEL)

        def score(row: dict[str, Any], report: TransformReport) -> float:
            raw = row[name]
            if raw.__class__ is str:
                value = by_level.get(raw)
                if value is not None:
                    if rare and raw in rare:
                        report.add("rare", name)
                    return value
            elif raw is None and missing_value is not None:
                return missing_value
            self.code_of(raw, report)  # the slow path: counts (or refuses) unseen and rare values
            level = category_of(raw)
            return by_level.get(MISSING_LEVEL if level is None else level, 0.0)

        del unseen_error
        return score

    def batch_scorer(self, coef: tuple[float, ...]) -> BatchScore:
        """``partial_scorer`` for a list of rows: string levels by one dict lookup each, the rest by
        the one-row scorer."""
        one, name = self.partial_scorer(coef), self.name
        by_level = {level: coef[code] for level, code in self._index.items()}
        rare = frozenset(self.rare_levels)

        def score_many(rows: Rows, report: TransformReport) -> NDArray[np.float64]:
            # map over a C callable: no bytecode per row. Only strings can equal a level (the keys are
            # strings); anything else comes back None and goes to the one-row scorer.
            values = rows.column(name)
            try:
                scores: list[float | None] = list(map(by_level.get, values))
            except TypeError:  # an unhashable value (a list, an object): the one-row scorer refuses it
                return row_by_row(one)(rows, report)
            if rare:
                report.add(
                    "rare", name, sum(1 for raw, s in zip(values, scores, strict=True) if s is not None and raw in rare)
                )
            return finish_batch(rows, scores, one, report)

        return score_many

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "levels": list(self.levels),
            "rare_levels": list(self.rare_levels),
            "unseen": self.unseen,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FittedCategorical:
        return cls(d["name"], tuple(d["levels"]), tuple(d.get("rare_levels", ())), d.get("unseen", "bucket"))


def level_counts(data: pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(as_category(data)).to_pylist()
    return {MISSING_LEVEL if item["values"] is None else item["values"]: int(item["counts"]) for item in counts}


def fit_categorical(name: str, data: pa.ChunkedArray, options: dict[str, Any]) -> FittedCategorical:
    return fit_categorical_counts(name, level_counts(data), options)


def fit_categorical_counts(name: str, counts: dict[str, int], options: dict[str, Any]) -> FittedCategorical:
    """The levels kept from each level's count in the training rows (what a streamed fit merges)."""
    minimum = int(options["min_frequency"])
    kept = sorted(level for level, n in counts.items() if n >= minimum)
    rare = sorted(level for level, n in counts.items() if n < minimum)
    if len(rare) == 1 and kept:
        # A rare bucket of one level is that level under another name; keep it as itself.
        kept, rare = sorted([*kept, *rare]), []
    return FittedCategorical(name, tuple(kept), tuple(rare), options["unseen"])
