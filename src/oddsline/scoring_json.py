"""Log-odds of a JSON array of rows, read straight from its bytes by the compiled twin of the batch
scorers (``_jsonrows.c``): no Python object per value.

Parsed into Python objects, a 1,000-row request costs about 1 ms to decode and 1.5 ms more to score,
at some 60 ns a value; read in C it costs about a tenth of that. Only the common case is taken (see
the C file): a model whose columns are all boolean, categorical or linear numeric, and a body whose
every value is a known level, an in-range number or an imputed null. For anything else ``log_odds`` returns None and
the Python path scores the rows, as always. Where both can score a row they give the same number to
the last bit: the tests check it against the Python path on generated bodies.

Without a C compiler at install time the extension is absent and ``compile`` returns None.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._exceptions import OddslineError
from .features.boolean import FittedBoolean
from .features.categorical import FittedCategorical
from .features.fitted import FittedFeatures
from .features.numeric import FittedNumeric
from .features.report import TransformReport

try:
    from . import _jsonrows  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler
    _jsonrows = None

__all__ = ["COMPILED", "JsonRowScorer"]

COMPILED = _jsonrows is not None
_BOOLEAN, _CATEGORICAL, _NUMERIC = 0, 1, 2
_MAX_COLUMNS = 64

Events = list[tuple[str, int]]  # what the report gets for one null in a column


def _missing(column: Any, coef: tuple[float, ...]) -> tuple[int, float, Events]:
    """A null's share of the log-odds and the report's events for it, from the one-row scorer itself;
    (0, 0.0, []) where a null is refused (the Python path then answers it)."""
    report = TransformReport()
    try:
        part = column.partial_scorer(coef)({column.name: None}, report)
    except OddslineError:
        return 0, 0.0, []
    return 1, part, [(event, per_column[column.name]) for event, per_column in report.counts.items()]


def _plan_column(column: Any, coef: tuple[float, ...]) -> tuple[tuple[Any, ...], Events] | None:
    """A column as the C plan takes it, and the events of one null in it; None for a kind it does not
    score."""
    linear = isinstance(column, FittedNumeric) and not (column.edges or column.log1p)
    if not (linear or isinstance(column, (FittedBoolean, FittedCategorical))):
        return None
    try:
        name = column.name.encode()
    except UnicodeEncodeError:  # a lone surrogate never matches a request's UTF-8
        return None
    imputes, missing_part, events = _missing(column, coef)
    missing = (imputes, missing_part)
    unused = (0.0,) * 6  # low, high, clip_low, clip_high, center, scale
    if isinstance(column, FittedBoolean):
        return (name, _BOOLEAN, coef[0], *unused, *missing, []), events
    if isinstance(column, FittedCategorical):
        # The kept levels only, design column i for level i: a rare level is counted by the Python
        # path, so the C plan does not know it.
        try:
            levels = [(level.encode(), coef[i]) for i, level in enumerate(column.levels)]
        except UnicodeEncodeError:
            return None
        return (name, _CATEGORICAL, 0.0, *unused, *missing, levels), events
    numeric = (column.low, column.high, column.clip_low, column.clip_high, column.center, column.scale)
    return (name, _NUMERIC, coef[0], *numeric, *missing, []), events


class JsonRowScorer:
    """The compiled plan of one model. It remembers its last answer: a service asks once to learn that
    a body is the common case (and how many rows it holds), then again to score it."""

    def __init__(self, plan: Any, names: list[str], events: list[Events]) -> None:
        self._plan, self._names, self._events = plan, names, events
        self._last: tuple[bytes, Any] | None = None

    @classmethod
    def compile(cls, features: FittedFeatures, coef: NDArray[np.float64], intercept: float) -> JsonRowScorer | None:
        """The plan of a model, or None where the extension is absent or a column is of a kind it
        does not score (bins, log, dates, hashing, interactions, target encoding)."""
        if _jsonrows is None:
            return None
        columns, names, events = [], [], []
        for column, block in features.blocks():
            planned = _plan_column(column, tuple(float(c) for c in coef[block]))
            if planned is None:
                return None
            columns.append(planned[0])
            events.append(planned[1])
            names.append(column.name)
        # Each source column scored by exactly one block: then "every key once" is "exactly the columns".
        if not 0 < len(names) <= _MAX_COLUMNS or sorted(names) != sorted(set(features.source_columns)):
            return None
        try:
            plan = _jsonrows.Plan(columns, float(intercept))
        except ValueError:  # a column name that JSON spells only with escapes
            return None
        return cls(plan, names, events)

    def log_odds(self, body: bytes, report: TransformReport | None = None) -> NDArray[np.float64] | None:
        """Each row's log-odds (read-only), or None when the body is not the common case. ``report``
        gets the rows and the imputed nulls."""
        last = self._last  # one read: another thread may replace it meanwhile
        if last is not None and last[0] is body:
            scored = last[1]
        else:
            scored = self._plan.log_odds(body)
            self._last = (body, scored)
        if scored is None:
            return None
        packed, nulls = scored
        log_odds = np.frombuffer(packed, dtype=np.float64)
        log_odds.flags.writeable = False
        if report is not None:
            report.rows += len(log_odds)
            for name, events, n in zip(self._names, self._events, nulls, strict=True):
                for event, per_null in events if n else ():
                    report.add(event, name, per_null * n)
        return log_odds
