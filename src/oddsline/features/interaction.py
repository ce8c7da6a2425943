"""Interactions between two source columns.

numeric x numeric: the product of the two standardised values, design name ``a*b`` (each side is
imputed and scaled as a default numeric column, fitted here on its own so the pair does not depend
on how — or whether — the columns also enter alone).
categorical x categorical: the crossed level ``a=x|b=y``, signed-hashed into 2^bits columns named
``a*b#i`` (a cross of two vocabularies is too large to one-hot).
Missing and out-of-range values are counted by the columns' own encoders, not again here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from .categorical import MISSING_LEVEL
from .hashing import bucket_sign
from .numeric import NUMERIC_DEFAULTS, FittedNumeric, fit_numeric
from .report import TransformReport
from .values import as_category, category_of

__all__ = ["INTERACTION_DEFAULTS", "FittedInteraction", "fit_interaction"]

INTERACTION_DEFAULTS: dict[str, Any] = {"columns": None, "bits": 8}


@dataclass(frozen=True)
class FittedInteraction:
    left: str
    right: str
    numeric: tuple[FittedNumeric, FittedNumeric] | None  # None: categorical cross
    bits: int

    kind = "interaction"

    @property
    def name(self) -> str:
        return f"{self.left}*{self.right}"

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.left, self.right)

    @property
    def design_names(self) -> list[str]:
        if self.numeric is not None:
            return [self.name]
        return [f"{self.name}#{i}" for i in range(1 << self.bits)]

    def encode(self, table: pa.Table, out: NDArray[np.float64], report: TransformReport) -> None:
        quiet = TransformReport()
        if self.numeric is not None:
            a, b = (side.values(table, quiet)[0] for side in self.numeric)
            out[:, 0] = ((a - self.numeric[0].center) / self.numeric[0].scale) * (
                (b - self.numeric[1].center) / self.numeric[1].scale
            )
            return
        left = as_category(table.column(self.left)).to_pylist()
        right = as_category(table.column(self.right)).to_pylist()
        for i, (x, y) in enumerate(zip(left, right, strict=True)):
            bucket, sign = bucket_sign(_cross(self.left, x, self.right, y), self.bits)
            out[i, bucket] = sign

    def encode_row(self, row: dict[str, Any], report: TransformReport) -> list[tuple[int, float]]:
        quiet = TransformReport()
        if self.numeric is not None:
            a = self.numeric[0].value_of(row[self.left], quiet)[0]
            b = self.numeric[1].value_of(row[self.right], quiet)[0]
            return [
                (
                    0,
                    ((a - self.numeric[0].center) / self.numeric[0].scale)
                    * ((b - self.numeric[1].center) / self.numeric[1].scale),
                )
            ]
        crossed = _cross(self.left, category_of(row[self.left]), self.right, category_of(row[self.right]))
        return [bucket_sign(crossed, self.bits)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "columns": [self.left, self.right],
            "numeric": None if self.numeric is None else [side.to_dict() for side in self.numeric],
            "bits": self.bits,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FittedInteraction:
        numeric = None
        if d["numeric"] is not None:
            numeric = (FittedNumeric.from_dict(d["numeric"][0]), FittedNumeric.from_dict(d["numeric"][1]))
        return cls(d["columns"][0], d["columns"][1], numeric, int(d["bits"]))


def _cross(left: str, x: str | None, right: str, y: str | None) -> str:
    return f"{left}={MISSING_LEVEL if x is None else x}|{right}={MISSING_LEVEL if y is None else y}"


def fit_interaction(table: pa.Table, options: dict[str, Any], kinds: dict[str, str]) -> FittedInteraction:
    from .._exceptions import SchemaError

    columns = options["columns"]
    if not (isinstance(columns, (list, tuple)) and len(columns) == 2):
        raise SchemaError(f"an interaction needs columns: [a, b], got {columns!r}")
    left, right = (str(c) for c in columns)
    sides = {kinds.get(left), kinds.get(right)}
    if sides == {"numeric"}:
        plain = {**NUMERIC_DEFAULTS, "indicator": False}
        pair = (fit_numeric(left, table.column(left), plain), fit_numeric(right, table.column(right), plain))
        return FittedInteraction(left, right, pair, 0)
    if sides <= {"categorical", "boolean", "hashed", "target"}:
        return FittedInteraction(left, right, None, int(options["bits"]))
    raise SchemaError(
        f"interaction {left!r} x {right!r}: both columns must be numeric, or both categorical "
        f"(got {kinds.get(left)!r} and {kinds.get(right)!r}); declare them in the spec first"
    )
