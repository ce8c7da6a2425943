"""Signed feature hashing of categories into 2^bits columns, for vocabularies too large to one-hot.

Bucket and sign come from CRC-32 of the UTF-8 level (stable across processes and machines, unlike
Python's salted ``hash``): the low ``bits`` bits pick the bucket, bit 31 the sign, so colliding levels
cancel in expectation instead of adding up. Missing hashes as ``<missing>``; there is no unseen
level — every value has a bucket — so nothing is counted.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from .categorical import MISSING_LEVEL
from .report import TransformReport
from .values import category_of, distinct_levels

__all__ = ["HASHED_DEFAULTS", "FittedHashed", "bucket_sign"]

HASHED_DEFAULTS: dict[str, Any] = {"bits": 10}


def bucket_sign(level: str, bits: int) -> tuple[int, float]:
    h = zlib.crc32(level.encode("utf-8"))
    return h & ((1 << bits) - 1), -1.0 if h >> 31 else 1.0


def hash_codes(data: pa.ChunkedArray, bits: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """(bucket, sign) of every row: each distinct level is hashed once."""
    levels, indices = distinct_levels(data)
    pairs = [bucket_sign(MISSING_LEVEL if v is None else v, bits) for v in levels]
    buckets = np.array([b for b, _ in pairs], dtype=np.int64)
    signs = np.array([s for _, s in pairs])
    return buckets[indices], signs[indices]


@dataclass(frozen=True)
class FittedHashed:
    name: str
    bits: int

    kind = "hashed"

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def design_names(self) -> list[str]:
        return [f"{self.name}#{i}" for i in range(1 << self.bits)]

    def encode(self, table: pa.Table, out: NDArray[np.float64], report: TransformReport) -> None:
        buckets, signs = hash_codes(table.column(self.name), self.bits)
        out[np.arange(buckets.shape[0]), buckets] = signs

    def encode_row(self, row: dict[str, Any], report: TransformReport) -> list[tuple[int, float]]:
        level = category_of(row[self.name])
        return [bucket_sign(MISSING_LEVEL if level is None else level, self.bits)]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "bits": self.bits}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FittedHashed:
        return cls(d["name"], int(d["bits"]))
