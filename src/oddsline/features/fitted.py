"""FittedFeatures: the learned encoding of every source column — numbers and strings only, no code —
and the two paths from raw input to the design matrix: ``transform`` for tables and ``encode_row``
for one dict row. Both run the same steps in the same order (see each kind's module), so a row
gets the same design values, bit for bit, whichever path it takes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from .._exceptions import SchemaError
from .boolean import FittedBoolean
from .categorical import MISSING_LEVEL, UNKNOWN_LEVEL, FittedCategorical
from .datetime_parts import FittedDatetime
from .hashing import FittedHashed
from .interaction import FittedInteraction
from .numeric import FittedNumeric
from .report import TransformReport
from .target_encoding import FittedTargetEncoding

__all__ = ["KINDS_FITTED", "MISSING_LEVEL", "UNKNOWN_LEVEL", "FittedColumn", "FittedFeatures"]

FittedColumn = (
    FittedNumeric
    | FittedCategorical
    | FittedBoolean
    | FittedDatetime
    | FittedTargetEncoding
    | FittedHashed
    | FittedInteraction
)
KINDS_FITTED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "numeric": FittedNumeric.from_dict,
    "categorical": FittedCategorical.from_dict,
    "boolean": FittedBoolean.from_dict,
    "datetime": FittedDatetime.from_dict,
    "target": FittedTargetEncoding.from_dict,
    "hashed": FittedHashed.from_dict,
    "interaction": FittedInteraction.from_dict,
}


@dataclass(frozen=True)
class FittedFeatures:
    columns: tuple[FittedColumn, ...]
    strict: bool = False  # unexpected input columns: error (True) or ignore and count (False)
    _offsets: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        offsets, start = [], 0
        for column in self.columns:
            offsets.append(start)
            start += len(column.design_names)
        object.__setattr__(self, "_offsets", (*offsets, start))

    @property
    def source_columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for column in self.columns:
            seen.update(dict.fromkeys(column.sources))
        return list(seen)

    @property
    def design_names(self) -> list[str]:
        return [name for c in self.columns for name in c.design_names]

    @property
    def n_design(self) -> int:
        return self._offsets[-1]

    def blocks(self) -> list[tuple[FittedColumn, slice]]:
        """Each fitted column with its slice of the design columns."""
        return [(c, slice(self._offsets[i], self._offsets[i + 1])) for i, c in enumerate(self.columns)]

    def check_columns(self, names: list[str], report: TransformReport, rows: int = 1) -> None:
        missing = [name for name in self.source_columns if name not in names]
        if missing:
            raise SchemaError(
                f"input lacks column(s) {', '.join(map(repr, missing))} that the model was trained on; "
                "add them (values may be empty)"
            )
        expected = set(self.source_columns)
        extra = [name for name in names if name not in expected]
        if extra and self.strict:
            raise SchemaError(
                f"input has column(s) {', '.join(map(repr, extra))} the model does not use (strict schema); "
                "drop them or fit the spec with strict: false"
            )
        for name in extra:
            report.add("unexpected_column", name, rows)  # rows that carried it, as the row path counts

    def transform(self, table: Any, report: TransformReport | None = None) -> NDArray[np.float64]:
        """The (n_rows, n_design) float64 design matrix, C-ordered; events are added to ``report``.
        ``table``: a pyarrow Table, or any table ``oddsline.train`` takes (a pandas or polars DataFrame)."""
        if not isinstance(table, pa.Table):
            from ..io import to_arrow

            table = to_arrow(table)
        report = TransformReport() if report is None else report
        self.check_columns(table.column_names, report, table.num_rows)
        report.rows += table.num_rows
        out = np.zeros((table.num_rows, self.n_design))
        for column, block in self.blocks():
            column.encode(table, out[:, block], report)
        return out

    def encode_row(self, row: Mapping[str, Any], report: TransformReport | None = None) -> list[tuple[int, float]]:
        """One dict row as its non-zero design entries (index, value), in increasing index order."""
        report = TransformReport() if report is None else report
        values = row if isinstance(row, dict) else dict(row)
        self.check_columns(list(values), report)
        report.rows += 1
        terms: list[tuple[int, float]] = []
        for column, block in self.blocks():
            terms.extend((block.start + j, v) for j, v in column.encode_row(values, report))
        return terms

    def to_dict(self) -> dict[str, Any]:
        return {"strict": self.strict, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FittedFeatures:
        columns = []
        for c in data["columns"]:
            loader = KINDS_FITTED.get(c.get("kind"))
            if loader is None:
                raise SchemaError(f"unknown fitted column kind {c.get('kind')!r} for column {c.get('name')!r}")
            columns.append(loader(c))
        return cls(tuple(columns), bool(data.get("strict", False)))
