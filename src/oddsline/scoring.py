"""Log-odds from design values, the same way for a table and for one row.

The table path could use one BLAS product, but BLAS sums in an order that depends on the matrix
shape and the CPU, and a row scored alone would then differ from the same row scored in a batch in
the last bits. Here both paths add the terms of each source column's block in design order into a
partial sum, then the partials in column order, then the intercept; the single-row path skips zero
terms (adding c * 0 changes nothing but the sign of a zero). A row gets the same probability, bit
for bit, whichever path scores it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._exceptions import SchemaError
from .features import FittedFeatures, TransformReport
from .features.partial import BatchScore, DictRows, Rows, RowScore, partial_sum, row_by_row
from .scoring_json import JsonRowScorer

__all__ = ["RowScorer", "block_log_odds", "probabilities", "probability"]


def block_log_odds(
    features: FittedFeatures, X: NDArray[np.float64], coef: NDArray[np.float64], intercept: float
) -> NDArray[np.float64]:
    total = np.zeros(X.shape[0])
    part = np.empty(X.shape[0])
    term = np.empty(X.shape[0])
    for _, block in features.blocks():
        part.fill(0.0)
        for j in range(block.start, block.stop):
            c = coef[j]
            if c != 0.0:  # c * x == +-0 for every row: adds nothing
                np.multiply(X[:, j], c, out=term)
                part += term
        total += part
    total += intercept
    return total


@dataclass(frozen=True)
class RowScorer:
    """Scores one dict row: encoders and coefficient blocks resolved once, no numpy on the hot path."""

    plan: tuple[RowScore, ...]  # each column's partial sum
    batch: tuple[BatchScore, ...]  # the same, for a list of rows at once
    intercept: float
    sources: frozenset[str]
    strict: bool
    json: JsonRowScorer | None  # the common case of ``batch`` compiled, for rows that came as JSON text

    @classmethod
    def compile(cls, features: FittedFeatures, coef: NDArray[np.float64], intercept: float) -> RowScorer:
        plan, batch = [], []
        for column, block in features.blocks():
            coefs = tuple(float(c) for c in coef[block])
            specialised = getattr(column, "partial_scorer", None)
            one = specialised(coefs) if specialised is not None else _generic(column.encode_row, coefs)
            plan.append(one)
            many = getattr(column, "batch_scorer", None)
            batch.append(many(coefs) if many is not None else row_by_row(one))
        return cls(
            tuple(plan),
            tuple(batch),
            float(intercept),
            frozenset(features.source_columns),
            features.strict,
            JsonRowScorer.compile(features, coef, intercept),
        )

    def log_odds_many(self, rows: list[dict[str, Any]] | Rows, report: TransformReport) -> NDArray[np.float64]:
        """``log_odds`` of each row, column by column: the same partial sums added in the same order,
        so every row's value is bit for bit the one ``log_odds`` gives it alone. ``rows`` is a list of
        dicts, or :class:`Rows` that hold exactly the model's columns (a decoded request); rows that
        came as JSON text are scored from it where the compiled scorer takes them."""
        if self.json is not None and not isinstance(rows, list) and rows.json is not None:
            log_odds = self.json.log_odds(rows.json, report)
            if log_odds is not None:
                return log_odds
        if isinstance(rows, list):
            n_sources = len(self.sources)
            for row in rows:
                if len(row) != n_sources:
                    self._check(row, report)
            rows = DictRows(rows)
        total = np.zeros(len(rows))
        try:
            for score_many in self.batch:
                total += score_many(rows, report)
        except KeyError:
            for i in range(len(rows)):
                self._check(rows.row(i), report)
            raise
        report.rows += len(rows)
        return total + self.intercept

    def log_odds(self, row: Mapping[str, Any], report: TransformReport) -> float:
        values = row if isinstance(row, dict) else dict(row)
        if len(values) != len(self.sources):
            self._check(values, report)  # missing columns are refused, extra ones counted
        total = 0.0
        try:
            for partial in self.plan:
                total += partial(values, report)
        except KeyError:
            # As many keys as sources but one missing (another extra): the check names it.
            self._check(values, report)
            raise
        report.rows += 1
        return total + self.intercept

    def _check(self, values: dict[str, Any], report: TransformReport) -> None:
        missing = sorted(self.sources.difference(values))
        if missing:
            raise SchemaError(
                f"row lacks column(s) {', '.join(map(repr, missing))} that the model was trained on; "
                "add them (null in JSON, None in Python, for a missing value)"
            )
        extra = [name for name in values if name not in self.sources]
        if extra and self.strict:
            raise SchemaError(f"row has column(s) {', '.join(map(repr, extra))} the model does not use (strict schema)")
        for name in extra:
            report.add("unexpected_column", name)


def _generic(
    encode: Callable[[dict[str, Any], TransformReport], list[tuple[int, float]]], coef: tuple[float, ...]
) -> Callable[[dict[str, Any], TransformReport], float]:
    def score(row: dict[str, Any], report: TransformReport) -> float:
        return partial_sum(encode(row, report), coef)

    return score


def probabilities(log_odds: NDArray[np.float64]) -> NDArray[np.float64]:
    """``probability`` of each value: libm's exp through ``map`` (numpy's own exp may differ from it in
    the last bit), then the same two IEEE operations in numpy."""
    try:
        e = np.fromiter(map(math.exp, (-log_odds).tolist()), dtype=np.float64, count=log_odds.shape[0])
    except OverflowError:
        return np.array([probability(x) for x in log_odds.tolist()], dtype=np.float64)
    return 1.0 / (1.0 + e)  # type: ignore[no-any-return]


def probability(log_odds: float) -> float:
    """expit of one float by scipy's own formula, 1 / (1 + exp(-x)), so the two paths agree bitwise."""
    try:
        return 1.0 / (1.0 + math.exp(-log_odds))
    except OverflowError:  # exp(-x) beyond float64: scipy's 1 / (1 + inf)
        return 0.0
