"""Datetime columns: hour, day of week and month as one-hot parts, and age in days before a reference.

``pickup`` gives ``pickup.hour=7``, ``pickup.day_of_week=0`` (Monday), ``pickup.month=12`` for the
values seen in training, and ``pickup.age_days`` = (reference - pickup) in days, standardised. The
reference defaults to the latest training timestamp, so ages are positive for the training rows.
Values are read as timestamps (Arrow timestamp/date columns, ISO-8601 strings, or ``datetime``
objects in a row), naive ones taken as UTC. A missing value leaves the parts at zero, takes the
training median age and is counted — or gets a ``<missing>`` column when training had missing values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .._exceptions import SchemaError
from .categorical import MISSING_LEVEL
from .report import TransformReport

__all__ = [
    "DATETIME_DEFAULTS",
    "PARTS",
    "FittedDatetime",
    "datetime_parts",
    "fit_datetime",
    "microseconds",
    "microseconds_of",
    "timestamps_from_text",
]

DATETIME_DEFAULTS: dict[str, Any] = {"parts": ["hour", "day_of_week", "month"], "reference": None}
PARTS = ("hour", "day_of_week", "month")
_US_PER_DAY = 86_400_000_000.0
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def microseconds(name: str, data: pa.ChunkedArray) -> NDArray[np.float64]:
    """Microseconds since the epoch (UTC) as float64, NaN for missing."""
    try:
        if pa.types.is_string(data.type) or pa.types.is_large_string(data.type):
            data = timestamps_from_text(data)
        elif pa.types.is_date(data.type):
            data = pc.cast(pc.cast(data, pa.date32()), pa.timestamp("us"))
        elif not pa.types.is_timestamp(data.type):
            raise pa.ArrowInvalid(f"type {data.type}")
        if data.type.tz is not None:  # type: ignore[attr-defined]
            data = pc.cast(data, pa.timestamp("us", tz="UTC"))
        micros = pc.cast(pc.cast(data, pa.timestamp("us", tz=data.type.tz)), pa.int64())  # type: ignore[attr-defined]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(
            f"column {name!r} must hold timestamps (ISO-8601 text or datetime values): {str(exc).splitlines()[0]}; "
            "write dates as YYYY-MM-DD (times as YYYY-MM-DD HH:MM:SS)"
        ) from None
    return np.asarray(micros.to_numpy(zero_copy_only=False), dtype=np.float64)


def timestamps_from_text(data: pa.ChunkedArray) -> pa.ChunkedArray:
    """ISO-8601 text as timestamps: naive ones as they are (taken as UTC), or, when the text carries a
    zone (``Z``, ``+01:00``; Arrow refuses to mix the two), converted to UTC."""
    try:
        return pc.cast(data, pa.timestamp("us"))
    except pa.ArrowInvalid as naive:
        try:
            return pc.cast(data, pa.timestamp("us", tz="UTC"))
        except pa.ArrowInvalid:
            raise naive from None  # not a zone question: the text is no ISO-8601 timestamp (03/15/2019)


def microseconds_of(name: str, value: Any) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise SchemaError(f"column {name!r} must hold timestamps; {value!r} is not ISO-8601") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return float((value - _EPOCH) // dt.timedelta(microseconds=1))
    if isinstance(value, dt.date):
        return float(
            (dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC) - _EPOCH) // dt.timedelta(microseconds=1)
        )
    raise SchemaError(f"column {name!r} must hold timestamps; got {type(value).__name__} {value!r}")


def datetime_parts(micros: NDArray[np.float64]) -> dict[str, NDArray[np.int64]]:
    stamp = micros.astype("datetime64[us]")
    days = stamp.astype("datetime64[D]")
    hour = ((stamp - days) // np.timedelta64(1, "h")).astype(np.int64)
    day_of_week = ((days.astype(np.int64) + 3) % 7).astype(np.int64)  # 1970-01-01 was a Thursday (3)
    month = (days.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(np.int64)
    return {"hour": hour, "day_of_week": day_of_week, "month": month}


def _parts_of(micros: float) -> dict[str, int]:
    stamp = _EPOCH + dt.timedelta(microseconds=micros)
    return {"hour": stamp.hour, "day_of_week": stamp.weekday(), "month": stamp.month}


@dataclass(frozen=True)
class FittedDatetime:
    name: str
    parts: tuple[tuple[str, tuple[int, ...]], ...]  # (part, values seen in training)
    reference: float  # microseconds since the epoch
    fill_age: float
    center: float
    scale: float
    indicator: bool

    kind = "datetime"

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def design_names(self) -> list[str]:
        names = [f"{self.name}.{part}={v}" for part, values in self.parts for v in values]
        names.append(f"{self.name}.age_days")
        return names + ([f"{self.name}={MISSING_LEVEL}"] if self.indicator else [])

    def encode(self, table: pa.Table, out: NDArray[np.float64], report: TransformReport) -> None:
        micros = microseconds(self.name, table.column(self.name))
        missing = np.isnan(micros)
        present = np.flatnonzero(~missing)
        parts = datetime_parts(micros[present])
        start = 0
        for part, values in self.parts:
            lookup = {v: i for i, v in enumerate(values)}
            codes = np.array([lookup.get(int(v), -1) for v in parts[part]], dtype=np.int64)
            hit = codes >= 0
            out[present[hit], start + codes[hit]] = 1.0
            start += len(values)
        age = (self.reference - micros) / _US_PER_DAY
        if missing.any():
            report.add("imputed", self.name, int(missing.sum()))
            age[missing] = self.fill_age
            if self.indicator:
                out[:, -1] = missing
        out[:, start] = (age - self.center) / self.scale

    def encode_row(self, row: dict[str, Any], report: TransformReport) -> list[tuple[int, float]]:
        micros = microseconds_of(self.name, row[self.name])
        terms: list[tuple[int, float]] = []
        start = 0
        if micros == micros:  # not NaN
            parts = _parts_of(micros)
            for part, values in self.parts:
                if parts[part] in values:
                    terms.append((start + values.index(parts[part]), 1.0))
                start += len(values)
            age = (self.reference - micros) / _US_PER_DAY
        else:
            start = sum(len(values) for _, values in self.parts)
            report.add("imputed", self.name)
            age = self.fill_age
        terms.append((start, (age - self.center) / self.scale))
        if micros != micros and self.indicator:
            terms.append((start + 1, 1.0))
        return terms

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "parts": [[part, list(values)] for part, values in self.parts],
            "reference": self.reference,
            "fill_age": self.fill_age,
            "center": self.center,
            "scale": self.scale,
            "indicator": self.indicator,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FittedDatetime:
        parts = tuple((str(p), tuple(int(v) for v in values)) for p, values in d["parts"])
        fields = {k: d[k] for k in ("reference", "fill_age", "center", "scale")}
        return cls(d["name"], parts, **{k: float(v) for k, v in fields.items()}, indicator=bool(d["indicator"]))


def fit_datetime(name: str, data: pa.ChunkedArray, options: dict[str, Any]) -> FittedDatetime:
    micros = microseconds(name, data)
    missing = np.isnan(micros)
    present = micros[~missing]
    if present.size == 0:
        raise SchemaError(f"column {name!r} has no values in the training rows; ignore it (--ignore {name})")
    unknown = sorted(set(options["parts"]) - set(PARTS))
    if unknown:
        raise SchemaError(f"column {name!r}: unknown datetime part(s) {unknown}; choose from {list(PARTS)}")
    reference = float(present.max()) if options["reference"] is None else microseconds_of(name, options["reference"])
    observed = datetime_parts(present)
    # A part with one value in training (hour 0 for dates, a single month) is a column of ones: the
    # intercept again, so it is left out rather than given a coefficient the data cannot determine.
    levels = {part: tuple(int(v) for v in np.unique(observed[part])) for part in PARTS if part in options["parts"]}
    parts = tuple((part, values) for part, values in levels.items() if len(values) > 1)
    age = (reference - present) / _US_PER_DAY
    fill = float(np.median(age))
    full = np.where(missing, fill, (reference - micros) / _US_PER_DAY)
    scale = float(full.std())
    return FittedDatetime(
        name, parts, reference, fill, float(full.mean()), scale if scale > 0 else 1.0, bool(missing.any())
    )
