"""The binary target: which column, which value is the positive class, and its 0/1 encoding.

Labels keep their original JSON type (``"Yes"``, ``1``, ``True``) so predictions come back in the
user's own vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ._exceptions import TargetError

__all__ = ["BinaryTarget", "ClassTarget", "resolve_classes", "resolve_target", "resolve_target_counts"]

Label = str | int | float | bool

# Labels that conventionally mark the event of interest; with two classes and no --positive, one of
# these is the positive class. Otherwise the rarer class is, which is the usual event (churn, default).
_POSITIVE_WORDS = ("yes", "y", "true", "1", "1.0", "positive", "pos", "bad", "default", "churn", "spam", "fraud")


_TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "1.0"})
_FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "0.0"})


def _truth(value: Any) -> bool | None:
    """True/False for a usual spelling of yes or no, else None."""
    word = str(value).strip().lower()
    return True if word in _TRUE_WORDS else False if word in _FALSE_WORDS else None


@dataclass(frozen=True)
class BinaryTarget:
    name: str
    negative: Label
    positive: Label
    positive_reason: str = "given"
    # True when the column has more than two values and every non-positive value counts as negative.
    one_vs_rest: bool = False

    @property
    def classes(self) -> list[Label]:
        return [self.negative, self.positive]

    def encode(self, table: pa.Table) -> NDArray[np.float64]:
        """0.0 for the negative label, 1.0 for the positive; an error for missing or foreign labels."""
        column = _target_column(table, self.name)
        if column.null_count:
            raise TargetError(
                f"target column {self.name!r} is empty in {column.null_count} row(s); "
                "drop those rows or fill in their labels (oddsline train --drop-missing-target drops them)"
            )
        values = column.to_pylist()
        positive, negative = _key(self.positive), _key(self.negative)
        keys = [_key(v) for v in values]
        foreign = sorted({k for k in keys if k not in (positive, negative)})
        if foreign and not self.one_vs_rest:
            raise TargetError(
                f"target column {self.name!r} has value(s) {foreign[:5]} besides the model's classes "
                f"{self.classes}; remove those rows"
            )
        return np.fromiter((k == positive for k in keys), dtype=np.float64, count=len(keys))

    def label_of(self, raw: Any) -> bool | None:
        """Whether a label sent later (``POST /v1/labels``) is the positive class: its exact spelling,
        then the same ignoring case and spaces, then, when the classes are a yes/no pair, any usual
        spelling of one (yes/no, true/false, 1/0, y/n). None for a label that is neither class."""
        text = str(raw).strip()
        for relaxed in (False, True):
            for value, answer in ((self.positive, True), (self.negative, False)):
                spelled = str(value).strip()
                if text == spelled or (relaxed and text.lower() == spelled.lower()):
                    return answer
        if _truth(self.positive) is True and _truth(self.negative) is False:
            return _truth(text)
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "negative": self.negative,
            "positive": self.positive,
            "positive_reason": self.positive_reason,
            "one_vs_rest": self.one_vs_rest,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BinaryTarget:
        return cls(
            data["name"],
            data["negative"],
            data["positive"],
            data.get("positive_reason", "given"),
            data.get("one_vs_rest", False),
        )


@dataclass(frozen=True)
class ClassTarget:
    """A target of two or more classes, encoded as the index of each label in ``classes``."""

    name: str
    classes: list[Label]

    def encode(self, table: pa.Table) -> NDArray[np.int64]:
        """Class index of each row's label; an error for missing or foreign labels."""
        column = _target_column(table, self.name)
        if column.null_count:
            raise TargetError(
                f"target column {self.name!r} is empty in {column.null_count} row(s); drop those rows or fill in their labels"
            )
        index = {_key(c): i for i, c in enumerate(self.classes)}
        keys = [_key(v) for v in column.to_pylist()]
        foreign = sorted({k for k in keys if k not in index})
        if foreign:
            raise TargetError(
                f"target column {self.name!r} has value(s) {foreign[:5]} besides the model's classes "
                f"{self.classes}; remove those rows"
            )
        return np.fromiter((index[k] for k in keys), dtype=np.int64, count=len(keys))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassTarget:
        return cls(data["name"], list(data["classes"]))


def resolve_classes(table: pa.Table, name: str) -> ClassTarget:
    """All labels of the target column, sorted (as strings), as a multiclass target."""
    column = _target_column(table, name)
    labels: list[Label] = pc.unique(column.drop_null()).to_pylist()
    if len(labels) < 2:
        raise TargetError(f"target column {name!r} has {len(labels)} distinct value(s); a classifier needs two or more")
    refuse_continuous(name, column.drop_null(), len(labels))
    return ClassTarget(name, sorted(labels, key=_key))


# A numeric target with more distinct values than this, or with fractions, is a measurement, not classes.
MAX_NUMERIC_CLASSES = 20


def refuse_continuous(name: str, present: pa.ChunkedArray, n_labels: int) -> None:
    """A logistic regression predicts classes: a measured number (a delay, an amount) must first be cut
    into a binary column, and the error says so instead of asking which of 500 values is positive."""
    if not (
        pa.types.is_floating(present.type) or pa.types.is_integer(present.type) or pa.types.is_decimal(present.type)
    ):
        return
    if n_labels <= 2:
        return
    values = present.to_numpy(zero_copy_only=False).astype(np.float64)
    fractional = bool(np.any(values != np.round(values)))
    if fractional or n_labels > MAX_NUMERIC_CLASSES:
        low, high = float(values.min()), float(values.max())
        raise TargetError(
            f"target column {name!r} looks continuous ({n_labels} distinct numbers from {low:g} to {high:g}); "
            f"derive a binary column first (for example {name}_high = {name} > {float(np.median(values)):g}) and "
            "train on that"
        )


def resolve_target(table: pa.Table, name: str, positive: Label | None = None) -> BinaryTarget:
    """Find the target column and decide the positive class, with errors that say what to pass."""
    column = _target_column(table, name)
    present = column.drop_null()
    counts = {c["values"]: int(c["counts"]) for c in pc.value_counts(present).to_pylist()}
    return resolve_target_counts(name, counts, present, positive)


def resolve_target_counts(
    name: str, counts: dict[Any, int], present: pa.ChunkedArray, positive: Label | None = None
) -> BinaryTarget:
    """``resolve_target`` from each label's count (in order of first appearance); ``present`` holds the
    labels (all rows, or each distinct label once) for the test of a continuous target."""
    labels: list[Label] = list(counts)
    frequency = {_key(label): n for label, n in counts.items()}
    if not labels:
        raise TargetError(f"target column {name!r} has no values; give a column with labels")
    if positive is not None:
        matches = [v for v in labels if _key(v) == _key(positive)]
        if not matches:
            matches = [v for v in labels if _key(v).lower() == str(positive).lower()]
        if len(matches) != 1:
            shown = ", ".join(repr(v) for v in sorted(labels, key=_key)[:10])
            raise TargetError(f"--positive {positive!r} never occurs in target column {name!r}; its values are {shown}")
        chosen = matches[0]
        others = [v for v in labels if v != chosen]
        if len(others) == 1:
            return BinaryTarget(name, others[0], chosen, "given")
        return BinaryTarget(name, f"not {chosen}", chosen, "given", one_vs_rest=True)
    if len(labels) == 1:
        raise TargetError(f"target column {name!r} has only one value ({labels[0]!r}); a classifier needs two")
    refuse_continuous(name, present, len(labels))
    if len(labels) > 2:
        shown = ", ".join(repr(v) for v in sorted(labels, key=_key)[:10])
        raise TargetError(
            f"target column {name!r} has {len(labels)} values ({shown}); "
            "say which one is the positive class with --positive VALUE (positive=... in Python), or fit a "
            "multinomial model over all of them (oddsline.train_multiclass in Python; the command does so "
            "when --positive is not given)"
        )
    for word in _POSITIVE_WORDS:
        hits = [v for v in labels if _key(v).lower() == word]
        if hits:
            chosen = hits[0]
            return BinaryTarget(name, _other(labels, chosen), chosen, f"{chosen!r} names the event")
    chosen = min(labels, key=lambda v: (frequency[_key(v)], _key(v)))
    return BinaryTarget(name, _other(labels, chosen), chosen, f"{chosen!r} is the rarer class")


def _target_column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise TargetError(f"target column {name!r} is not in the table; its columns are {table.column_names}")
    return table.column(name)


def _key(value: Any) -> str:
    return str(value)


def _other(labels: list[Label], chosen: Label) -> Label:
    return next(v for v in labels if v != chosen)
