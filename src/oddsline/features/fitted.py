"""FittedFeatures: the learned encoding of every source column, and the table -> design-matrix transform.

Numeric column ``tenure``: missing -> training median, then (x - mean) / scale; design name ``tenure``.
Categorical column ``contract``: one design column per training level, named ``contract=Two year``.
A missing value is its own level ``<missing>`` when the training rows had one. A value never seen in
training falls in the explicit unknown bucket: no design column can be learned for it (no training row
has it), so it encodes as all zeros in that column's block and the row scores on the other columns
alone; the bucket is counted, so monitoring sees how often it happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .._exceptions import SchemaError

__all__ = ["MISSING_LEVEL", "UNKNOWN_LEVEL", "FittedCategorical", "FittedFeatures", "FittedNumeric"]

MISSING_LEVEL = "<missing>"
UNKNOWN_LEVEL = "<unknown>"


@dataclass(frozen=True)
class FittedNumeric:
    name: str
    median: float
    mean: float
    scale: float

    @property
    def design_names(self) -> list[str]:
        return [self.name]

    def encode(self, data: pa.ChunkedArray, out: NDArray[np.float64]) -> None:
        values = as_float(self.name, data)
        np.copyto(out[:, 0], values)
        np.nan_to_num(out[:, 0], copy=False, nan=self.median)
        out[:, 0] -= self.mean
        out[:, 0] /= self.scale

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "numeric", "name": self.name, "median": self.median, "mean": self.mean, "scale": self.scale}


@dataclass(frozen=True)
class FittedCategorical:
    name: str
    levels: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {level: i for i, level in enumerate(self.levels)})

    @property
    def design_names(self) -> list[str]:
        return [f"{self.name}={level}" for level in self.levels]

    def codes(self, data: pa.ChunkedArray) -> NDArray[np.int64]:
        """Index of each row's level; -1 for the unknown bucket."""
        encoded = pc.dictionary_encode(as_category(data)).combine_chunks()
        dictionary = encoded.dictionary.to_pylist()
        lookup = np.array([self._index.get(v, -1) for v in dictionary] + [self._index.get(MISSING_LEVEL, -1)])
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        if encoded.null_count:
            indices = np.where(encoded.is_null().to_numpy(zero_copy_only=False), len(dictionary), indices)
        return lookup[indices.astype(np.int64)] if len(lookup) else np.full(len(indices), -1)

    def encode(self, data: pa.ChunkedArray, out: NDArray[np.float64]) -> None:
        codes = self.codes(data)
        rows = np.nonzero(codes >= 0)[0]
        out[rows, codes[rows]] = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "categorical", "name": self.name, "levels": list(self.levels)}


FittedColumn = FittedNumeric | FittedCategorical


@dataclass(frozen=True)
class FittedFeatures:
    columns: tuple[FittedColumn, ...]

    @property
    def source_columns(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def design_names(self) -> list[str]:
        return [name for c in self.columns for name in c.design_names]

    @property
    def n_design(self) -> int:
        return len(self.design_names)

    def check_columns(self, table: pa.Table) -> None:
        missing = [name for name in self.source_columns if name not in table.column_names]
        if missing:
            raise SchemaError(
                f"input lacks column(s) {', '.join(map(repr, missing))} that the model was trained on; "
                "add them (values may be empty)"
            )

    def transform(self, table: pa.Table) -> NDArray[np.float64]:
        """The (n_rows, n_design) float64 design matrix, C-ordered."""
        self.check_columns(table)
        out = np.zeros((table.num_rows, self.n_design))
        start = 0
        for col in self.columns:
            width = len(col.design_names)
            block = out[:, start : start + width]
            col.encode(table.column(col.name), block)
            start += width
        return out

    def unknown_counts(self, table: pa.Table) -> dict[str, int]:
        """Rows per categorical column that fell in the unknown bucket."""
        return {
            c.name: int(np.sum(c.codes(table.column(c.name)) < 0))
            for c in self.columns
            if isinstance(c, FittedCategorical)
        }

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FittedFeatures:
        columns: list[FittedColumn] = []
        for c in data["columns"]:
            if c["kind"] == "numeric":
                columns.append(FittedNumeric(c["name"], float(c["median"]), float(c["mean"]), float(c["scale"])))
            elif c["kind"] == "categorical":
                columns.append(FittedCategorical(c["name"], tuple(c["levels"])))
            else:
                raise SchemaError(f"unknown fitted column kind {c['kind']!r} for column {c['name']!r}")
        return cls(tuple(columns))


def as_float(name: str, data: pa.ChunkedArray) -> NDArray[np.float64]:
    """Column as float64 with NaN for missing; a clear error if it holds text that is not a number."""
    if pa.types.is_null(data.type):
        return np.full(len(data), np.nan)
    try:
        as_double = pc.cast(data, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(
            f"column {name!r} must be numeric but holds {data.type} values ({str(exc).splitlines()[0]}); "
            "fix the values or declare the column categorical"
        ) from None
    return np.asarray(as_double.to_numpy(zero_copy_only=False), dtype=np.float64).copy()


def as_category(data: pa.ChunkedArray) -> pa.ChunkedArray:
    """Column as strings: the single representation of a category in training and scoring alike."""
    if pa.types.is_dictionary(data.type):
        data = pc.cast(data, data.type.value_type)
    if pa.types.is_null(data.type):
        return pa.chunked_array([pa.nulls(len(data), pa.string())])
    return pc.cast(data, pa.string())
