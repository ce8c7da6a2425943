"""FeatureSpec: which source columns feed the model and how each is encoded.

A spec holds no data. ``FeatureSpec.fit(table)`` learns medians, scales and vocabularies from the
training rows only (so nothing of a held-out split leaks into the encoding) and returns
:class:`FittedFeatures`, which holds numbers and strings, never code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._exceptions import SchemaError
from .fitted import MISSING_LEVEL, FittedCategorical, FittedFeatures, FittedNumeric, as_category, as_float

__all__ = ["KINDS", "ColumnSpec", "FeatureSpec"]

KINDS = ("numeric", "categorical")


@dataclass(frozen=True)
class ColumnSpec:
    """One source column: ``numeric`` (median impute, standardise) or ``categorical`` (one-hot)."""

    name: str
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SchemaError(f"column {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")


@dataclass(frozen=True)
class FeatureSpec:
    columns: tuple[ColumnSpec, ...]

    @classmethod
    def infer(cls, table: pa.Table, *, target: str | None = None, ignore: Iterable[str] = ()) -> FeatureSpec:
        """Numbers become numeric features; strings and booleans categorical. Other types must be ignored."""
        skip = set(ignore) | ({target} if target else set())
        unknown = sorted(skip - set(table.column_names) - ({target} if target else set()))
        if unknown:
            raise SchemaError(
                f"cannot ignore {', '.join(map(repr, unknown))}: no such column; columns are {table.column_names}"
            )
        columns = []
        for name in table.column_names:
            if name in skip:
                continue
            column_type = table.schema.field(name).type
            if (
                pa.types.is_integer(column_type)
                or pa.types.is_floating(column_type)
                or pa.types.is_decimal(column_type)
            ):
                columns.append(ColumnSpec(name, "numeric"))
            elif (
                pa.types.is_boolean(column_type)
                or pa.types.is_string(column_type)
                or pa.types.is_large_string(column_type)
                or pa.types.is_dictionary(column_type)
            ):
                columns.append(ColumnSpec(name, "categorical"))
            elif pa.types.is_null(column_type):
                raise SchemaError(f"column {name!r} is empty in every row; ignore it (--ignore {name})")
            else:
                raise SchemaError(
                    f"column {name!r} has type {column_type}, which this version cannot encode; "
                    f"ignore it (--ignore {name}) or convert it to a number or string first"
                )
        if not columns:
            raise SchemaError("no feature columns are left after removing the target and ignored columns")
        return cls(tuple(columns))

    def fit(self, table: pa.Table) -> FittedFeatures:
        missing = [c.name for c in self.columns if c.name not in table.column_names]
        if missing:
            raise SchemaError(f"the training table lacks column(s) {', '.join(map(repr, missing))} named in the spec")
        fitted: list[FittedNumeric | FittedCategorical] = []
        for col in self.columns:
            data = table.column(col.name)
            if col.kind == "numeric":
                fitted.append(_fit_numeric(col.name, data))
            else:
                fitted.append(_fit_categorical(col.name, data))
        return FittedFeatures(tuple(fitted))

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [{"name": c.name, "kind": c.kind} for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(tuple(ColumnSpec(c["name"], c["kind"]) for c in data["columns"]))


def _fit_numeric(name: str, data: pa.ChunkedArray) -> FittedNumeric:
    values = as_float(name, data)
    present = values[~np.isnan(values)]
    if present.size == 0:
        raise SchemaError(f"column {name!r} has no values in the training rows; ignore it (--ignore {name})")
    median = float(np.median(present))
    imputed = np.where(np.isnan(values), median, values)
    mean = float(imputed.mean())
    std = float(imputed.std())
    # A constant column carries no information; scale 1 keeps it at exactly zero instead of dividing by 0.
    return FittedNumeric(name, median=median, mean=mean, scale=std if std > 0 else 1.0)


def _fit_categorical(name: str, data: pa.ChunkedArray) -> FittedCategorical:
    strings = as_category(data)
    counts = pc.value_counts(strings)
    levels = []
    for item in counts.to_pylist():
        levels.append(MISSING_LEVEL if item["values"] is None else item["values"])
    return FittedCategorical(name, tuple(sorted(levels)))
