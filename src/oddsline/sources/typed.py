"""A batch given the types the feature spec asks for, whatever the file's own reader guessed."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .._exceptions import SchemaError
from ..batch import as_inferred_type
from ..csv_dialect import CsvDialect
from ..csv_numbers import parse_numbers
from ..features import FeatureSpec

__all__ = ["column_kinds", "typed_batch"]

_NUMBER_KINDS = ("numeric", "passthrough")


def column_kinds(spec: FeatureSpec) -> dict[str, str]:
    """Each source column the spec reads, as what it must hold: number, boolean, datetime or text."""
    kinds: dict[str, str] = {}
    for column in spec.columns:
        if column.kind == "interaction":
            continue
        kinds[column.name] = "number" if column.kind in _NUMBER_KINDS else column.kind
    for column in spec.columns:
        if column.kind == "interaction":
            for name in column.options.get("columns", []):
                kinds.setdefault(str(name), "text")
    return {name: kind if kind in ("number", "boolean", "datetime") else "text" for name, kind in kinds.items()}


def typed_batch(
    batch: pa.Table,
    kinds: dict[str, str],
    dialect: CsvDialect | None,
    inferred: pa.Schema,
    where: str,
    first_row: int,
) -> pa.Table:
    """Text columns (CSV) turned into what the spec reads: numbers parsed (a value that is not one is an
    error naming the file and data row), other text given the type an ordinary read of the file infers
    (so ``1.0`` is the category ``1`` in every batch). Typed columns (Parquet, Arrow) pass unchanged."""
    decimal_comma = dialect is not None and dialect.decimal_comma
    for name, kind in kinds.items():
        if name not in batch.column_names:
            continue
        i = batch.schema.get_field_index(name)
        column = batch.column(i)
        if not pa.types.is_string(column.type):
            continue
        if kind == "number":
            values, bad = parse_numbers(column.combine_chunks(), decimal_comma=decimal_comma)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise SchemaError(
                    f"{where}: column {name!r}, data row {first_row + row + 1}: {column[row].as_py()!r} is not a "
                    "number; fix the value, declare the column categorical in the spec, or mark it missing "
                    "(--na-values)"
                )
            batch = batch.set_column(i, name, values)
        else:
            inferred_type = inferred.field(name).type if name in inferred.names else None
            batch = batch.set_column(i, name, as_inferred_type(column, inferred_type))
    return batch
