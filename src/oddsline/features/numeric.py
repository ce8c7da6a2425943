"""Numeric columns: impute, optional log1p, clip at learned quantiles, then scale — or quantile bins.

Order of the steps, the same when fitting, transforming a table and encoding one row:
  raw -> (out of the training range? count / clip / error) -> missing? impute (+ indicator)
      -> log1p -> clip to learned quantiles -> (x - center) / scale      or   -> one-hot quantile bin
Every statistic is learned from the training rows only.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from .._exceptions import SchemaError
from .partial import BatchScore, Rows, partial_sum, row_by_row
from .report import TransformReport
from .values import as_float, float_of

__all__ = ["NUMERIC_DEFAULTS", "PASSTHROUGH_OPTIONS", "FittedNumeric", "fit_numeric"]

NUMERIC_DEFAULTS: dict[str, Any] = {
    "impute": "median",  # median | mean | constant
    "fill_value": None,  # with impute: constant
    "indicator": "auto",  # a <missing> column: auto (when training had missing values) | true | false
    "scale": "standard",  # standard | robust (median / IQR) | none
    "clip": None,  # [low_quantile, high_quantile], e.g. [0.01, 0.99]
    "log1p": False,
    "bins": 0,  # > 1: one-hot of this many quantile bins instead of a scaled value
    # Beyond the training min/max: clip (to the nearest bound, and count) | count (extrapolate, and
    # count) | error. clip by default: a linear score extrapolated from -1e9 is a confident probability
    # of 0 or 1 that nothing in training supports.
    "out_of_range": "clip",
}

# The passthrough kind: the number as it is, neither scaled nor clipped to the training range.
PASSTHROUGH_OPTIONS: dict[str, Any] = {**NUMERIC_DEFAULTS, "scale": "none", "out_of_range": "count"}


@dataclass(frozen=True)
class FittedNumeric:
    name: str
    fill: float
    indicator: bool
    log1p: bool
    low: float  # training range of the raw values
    high: float
    out_of_range: str
    clip_low: float = -math.inf
    clip_high: float = math.inf
    center: float = 0.0
    scale: float = 1.0
    edges: tuple[float, ...] = ()  # inner bin edges when binned

    kind = "numeric"

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def design_names(self) -> list[str]:
        if self.edges:
            bounds = [-math.inf, *self.edges, math.inf]
            names = [f"{self.name}=({_fmt(bounds[i])}, {_fmt(bounds[i + 1])}]" for i in range(len(bounds) - 1)]
        else:
            names = [self.name]
        return names + ([f"{self.name}=<missing>"] if self.indicator else [])

    @property
    def linear(self) -> bool:
        """True when the design column is an affine function of the raw value (no log, clip or bins)."""
        return not (self.edges or self.log1p or math.isfinite(self.clip_low) or math.isfinite(self.clip_high))

    def values(self, table: pa.Table, report: TransformReport) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """(transformed values before scaling/binning, missing mask)."""
        v = as_float(self.name, table.column(self.name))
        missing = np.isnan(v)
        outside = ~missing & ((v < self.low) | (v > self.high))
        if outside.any():
            if self.out_of_range == "error":
                bad = float(v[np.flatnonzero(outside)[0]])
                raise SchemaError(
                    f"column {self.name!r}: value {bad!r} is outside the training range [{self.low!r}, {self.high!r}]; "
                    "fix the input or set out_of_range: count or clip in the spec"
                )
            report.add("out_of_range", self.name, int(outside.sum()))
            if self.out_of_range == "clip":
                np.clip(v, self.low, self.high, out=v, where=~missing)
        if missing.any():
            report.add("imputed", self.name, int(missing.sum()))
            v[missing] = self.fill
        if self.log1p:
            np.log1p(v, out=v)
        if math.isfinite(self.clip_low) or math.isfinite(self.clip_high):
            np.clip(v, self.clip_low, self.clip_high, out=v)
        return v, missing

    def encode(self, table: pa.Table, out: NDArray[np.float64], report: TransformReport) -> None:
        v, missing = self.values(table, report)
        if self.edges:
            out[np.arange(v.shape[0]), np.searchsorted(np.asarray(self.edges), v, side="left")] = 1.0
        else:
            np.subtract(v, self.center, out=out[:, 0])
            out[:, 0] /= self.scale
        if self.indicator:
            out[:, -1] = missing

    def value_of(self, raw: Any, report: TransformReport) -> tuple[float, bool]:
        v = float_of(self.name, raw)
        missing = math.isnan(v)
        if not missing and (v < self.low or v > self.high):
            if self.out_of_range == "error":
                raise SchemaError(
                    f"column {self.name!r}: value {v!r} is outside the training range [{self.low!r}, {self.high!r}]; "
                    "fix the input or set out_of_range: count or clip in the spec"
                )
            report.add("out_of_range", self.name)
            if self.out_of_range == "clip":
                v = min(max(v, self.low), self.high)
        if missing:
            report.add("imputed", self.name)
            v = self.fill
        if self.log1p:
            v = float(np.log1p(v))  # numpy's log1p, as the table path: libm's may differ in the last bit
        if v < self.clip_low:
            v = self.clip_low
        elif v > self.clip_high:
            v = self.clip_high
        return v, missing

    def encode_row(self, row: dict[str, Any], report: TransformReport) -> list[tuple[int, float]]:
        v, missing = self.value_of(row[self.name], report)
        terms = [(bisect.bisect_left(self.edges, v), 1.0)] if self.edges else [(0, (v - self.center) / self.scale)]
        if missing and self.indicator:
            terms.append((len(self.edges) + 1 if self.edges else 1, 1.0))
        return terms

    def partial_scorer(self, coef: tuple[float, ...]) -> Callable[[dict[str, Any], TransformReport], float]:
        """The block's share of the log-odds for one row, for the common case (a float in range, no
        log or bins) inline; anything else takes ``encode_row``, the same arithmetic in full."""
        name, low, high, center, scale = self.name, self.low, self.high, self.center, self.scale
        c0 = coef[0]
        simple = not (self.edges or self.log1p)
        clip_low, clip_high = self.clip_low, self.clip_high

        def score(row: dict[str, Any], report: TransformReport) -> float:
            raw = row[name]
            if simple and (raw.__class__ is float or raw.__class__ is int) and low <= raw <= high:
                v = float(raw)
                if v < clip_low:
                    v = clip_low
                elif v > clip_high:
                    v = clip_high
                return 0.0 + c0 * ((v - center) / scale)
            return partial_sum(self.encode_row(row, report), coef)

        return score

    def batch_scorer(self, coef: tuple[float, ...]) -> BatchScore:
        """``partial_scorer`` for a list of rows: numbers in range by numpy (the same operations, each
        exact, in the same order), the rest by the one-row scorer; binned or logged columns row by row."""
        one = self.partial_scorer(coef)
        if self.edges or self.log1p:
            return row_by_row(one)
        name, low, high, center, scale = self.name, self.low, self.high, self.center, self.scale
        c0, clip_low, clip_high = coef[0], self.clip_low, self.clip_high

        def score_many(rows: Rows, report: TransformReport) -> NDArray[np.float64]:
            values = rows.column(name)
            try:
                # None becomes NaN; numeric text and booleans convert as float_of converts them.
                v = np.array(values, dtype=np.float64)
            except (TypeError, ValueError, OverflowError):  # text, objects, huge integers: refused or
                return row_by_row(one)(rows, report)  # counted by the one-row scorer, as always
            common = (low <= v) & (v <= high)  # NaN (missing) is never in range
            np.clip(v, clip_low, clip_high, out=v)
            out = 0.0 + c0 * ((v - center) / scale)
            for i in np.flatnonzero(~common).tolist():
                out[i] = one(rows.row(i), report)
            return out

        return score_many

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "fill": self.fill,
            "indicator": self.indicator,
            "log1p": self.log1p,
            "low": self.low,
            "high": self.high,
            "out_of_range": self.out_of_range,
            "clip_low": self.clip_low if math.isfinite(self.clip_low) else None,  # JSON has no infinity
            "clip_high": self.clip_high if math.isfinite(self.clip_high) else None,
            "center": self.center,
            "scale": self.scale,
            "edges": list(self.edges),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FittedNumeric:
        fields = {k: v for k, v in d.items() if k != "kind"}
        fields["edges"] = tuple(fields.get("edges", ()))
        fields["clip_low"] = -math.inf if fields.get("clip_low") is None else fields["clip_low"]
        fields["clip_high"] = math.inf if fields.get("clip_high") is None else fields["clip_high"]
        return cls(**fields)


def fit_numeric(name: str, data: pa.ChunkedArray, options: dict[str, Any]) -> FittedNumeric:
    raw = as_float(name, data)
    missing = np.isnan(raw)
    present = raw[~missing]
    if present.size == 0:
        raise SchemaError(f"column {name!r} has no values in the training rows; ignore it (--ignore {name})")
    infinite = int(np.isinf(present).sum())
    if infinite:
        raise SchemaError(
            f"column {name!r} holds infinite values in {infinite} training row(s) (inf, -inf or a number beyond "
            f"float64); replace them with a missing value or a bound, or leave the column out (--ignore {name})"
        )
    if options["impute"] == "constant":
        if options["fill_value"] is None:
            raise SchemaError(f"column {name!r}: impute: constant needs fill_value: <number>")
        fill = float(options["fill_value"])
    else:
        fill = float(np.median(present) if options["impute"] == "median" else present.mean())
    indicator = bool(missing.any()) if options["indicator"] == "auto" else bool(options["indicator"])
    if options["log1p"] and (present.min() <= -1 or fill <= -1):
        raise SchemaError(f"column {name!r}: log1p needs values > -1, the training rows reach {present.min()!r}")
    v = np.where(missing, fill, raw)
    if options["log1p"]:
        v = np.log1p(v)
    clip_low, clip_high = -math.inf, math.inf
    if options["clip"] is not None:
        q_low, q_high = options["clip"]
        clip_low, clip_high = (float(q) for q in np.quantile(v, [q_low, q_high]))
        v = np.clip(v, clip_low, clip_high)
    common = dict(
        name=name,
        fill=fill,
        indicator=indicator,
        log1p=bool(options["log1p"]),
        low=float(present.min()),
        high=float(present.max()),
        out_of_range=options["out_of_range"],
        clip_low=clip_low,
        clip_high=clip_high,
    )
    if options["bins"] and options["bins"] > 1:
        edges = np.unique(np.quantile(v, np.linspace(0, 1, int(options["bins"]) + 1)[1:-1]))
        return FittedNumeric(**common, edges=tuple(float(e) for e in edges))  # type: ignore[arg-type]
    if options["scale"] == "standard":
        size = float(np.max(np.abs(v)))
        if size < 1e150:
            center, scale = float(v.mean()), float(v.std())
        else:  # moments of v / max|v|, scaled back: the squares in v.std() would overflow to inf
            center, scale = size * float((v / size).mean()), size * float((v / size).std())
    elif options["scale"] == "robust":
        q1, median, q3 = np.quantile(v, [0.25, 0.5, 0.75])
        center, scale = float(median), float(q3 - q1)
    else:
        center, scale = 0.0, 1.0
    # A constant column carries no information; scale 1 keeps it at exactly zero instead of dividing by 0.
    return FittedNumeric(**common, center=center, scale=scale if scale > 0 else 1.0)  # type: ignore[arg-type]


def _fmt(x: float) -> str:
    return f"{x:.6g}"
