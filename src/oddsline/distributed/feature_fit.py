"""Fit a FeatureSpec on a source too large to hold, to the same FittedFeatures as ``spec.fit`` on the rows.

From the summary pass: levels (categorical), majorities (boolean), ranges and moments (numeric). The
order statistics numeric options need (the median that fills missing values, the quantiles of ``clip``,
``bins`` and ``scale: robust``) are exact, found in rounds of passes (``order_stats.py``): first the
medians, then the quantiles of the filled values. Moments of clipped values take one more pass. Each
statistic is the one ``features/numeric.py`` computes in memory, by the same formula (numpy's median and
linear quantile); means and variances are merged, so they can differ from numpy's in the last bits.

Timestamps: the parts seen, the latest time, the median age (exact) and the moments of the ages. Target
encoding: level counts per fold of the position hash (``target_folds.py``). Interactions are not streamed
yet; they are refused by name, with the alternative.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._exceptions import SchemaError
from ..features import FeatureSpec, FittedFeatures
from ..features.boolean import FittedBoolean
from ..features.categorical import fit_categorical_counts
from ..features.datetime_parts import PARTS, FittedDatetime, microseconds_of
from ..features.hashing import FittedHashed
from ..features.numeric import PASSTHROUGH_OPTIONS, FittedNumeric
from ..features.values import as_float
from ..sources import Partition
from .job import Job, row_batches
from .order_stats import (
    RankQuery,
    RoundReply,
    first_range,
    linear_quantile,
    median_of,
    merge_replies,
    order_key,
    quantile_ranks,
)
from .rank_replies import RankReplies
from .summary import DatetimeSummary, Moments, NumericSummary, Summary
from .target_folds import TargetFolds, fit_target_folds

__all__ = ["STREAMED_KINDS", "PendingFills", "check_streamable", "fit_features_streamed"]

STREAMED_KINDS = ("numeric", "passthrough", "categorical", "boolean", "hashed", "datetime", "target")
_DAY_US = 86_400_000_000.0
_MAX_ROUNDS = 8

MapPartitions = Callable[..., list[Any]]  # (task, *arguments): task(partition, job, *arguments) per partition


def check_streamable(spec: FeatureSpec) -> None:
    refused = [f"{c.name} ({c.kind})" for c in spec.columns if c.kind not in STREAMED_KINDS]
    if refused:
        raise SchemaError(
            f"column(s) {', '.join(refused)} cannot be fitted on a streamed source yet; streamed training "
            f"fits {', '.join(STREAMED_KINDS)} columns. Declare them categorical (with min_frequency) or hashed "
            "in the spec, or train in memory on one file"
        )


@dataclass
class _NumericPlan:
    name: str
    options: dict[str, Any]
    summary: NumericSummary
    fill: float = math.nan
    clip_low: float = -math.inf
    clip_high: float = math.inf

    @property
    def n_values(self) -> int:  # the filled column: present values and one fill per missing value
        return self.summary.present + self.summary.missing

    def transform(self, x: float) -> float:
        """A raw (or fill) value as the numeric steps leave it before scaling: log1p, then clip."""
        v = float(np.log1p(x)) if self.options["log1p"] else x
        return min(max(v, self.clip_low), self.clip_high)


@dataclass(frozen=True)
class PendingFills:
    """Medians that fill numeric columns no training row misses. Their fill reaches only rows scored
    later, never the training design, so the first Newton pass answers their rank queries beside its
    sums (``rank_replies.py``) instead of a pass of their own; the features carry the sample's median
    until ``apply`` puts in the exact one."""

    queries: dict[tuple[str, int], RankQuery] = field(default_factory=dict)

    def apply(
        self, features: FittedFeatures, replies: dict[tuple[str, int], list[RoundReply]], job: Job, run: MapPartitions
    ) -> FittedFeatures:
        """The features with the exact medians, from the first pass's replies (and more rounds, rarely)."""
        if not self.queries:
            return features
        for key, query in self.queries.items():
            merge_replies(query, replies[key])
        _run_rounds(self.queries, {}, job, run)
        ranks: dict[str, list[int]] = {}
        for name, rank in self.queries:
            ranks.setdefault(name, []).append(rank)
        columns = []
        for column in features.columns:
            if isinstance(column, FittedNumeric) and column.name in ranks:
                lower = self.queries[(column.name, min(ranks[column.name]))].answer
                upper = self.queries[(column.name, max(ranks[column.name]))].answer
                column = dataclasses.replace(column, fill=median_of(float(lower), float(upper)))  # type: ignore[arg-type]
            columns.append(column)
        return FittedFeatures(tuple(columns), features.strict)


def fit_features_streamed(
    spec: FeatureSpec,
    summary: Summary,
    job: Job,
    map_partitions: MapPartitions,
    positive: dict[Any, float] | None = None,
    defer_unused_fills: bool = False,
) -> tuple[FittedFeatures, tuple[TargetFolds, ...], PendingFills]:
    """(the fitted features, the out-of-fold tables of target-encoded columns for the training design,
    the medians left to the first Newton pass when ``defer_unused_fills``: see ``PendingFills``).
    ``positive`` maps each target label to 1.0 or 0.0 (target encoding needs it)."""
    check_streamable(spec)
    cross_fitted: list[TargetFolds] = []
    plans: dict[str, _NumericPlan] = {}
    for c in spec.columns:
        if c.kind in ("numeric", "passthrough"):
            options = dict(c.settings) if c.kind == "numeric" else dict(PASSTHROUGH_OPTIONS)
            plans[c.name] = _NumericPlan(c.name, options, summary.numeric.get(c.name, NumericSummary()))
    for plan in plans.values():
        _check_values(plan)
    pending = _fill_values(plans, summary, job, map_partitions, defer_unused_fills)
    stamps = {c.name: c.settings for c in spec.columns if c.kind == "datetime"}
    datetimes = _datetimes(stamps, summary, job, map_partitions)
    quantiles = _quantiles(plans, summary, job, map_partitions)
    clipped = [p for p in plans.values() if math.isfinite(p.clip_low) or math.isfinite(p.clip_high)]
    moments: dict[str, Moments] = {}
    if clipped:
        transforms = {p.name: (p.fill, bool(p.options["log1p"]), p.clip_low, p.clip_high) for p in clipped}
        for part in map_partitions(moments_partition, transforms):
            for name, m in part.items():
                moments[name] = moments.get(name, Moments()).merge(m)
    fitted: list[Any] = []
    for c in spec.columns:
        if c.name in plans:
            fitted.append(_numeric(plans[c.name], quantiles.get(c.name, {}), moments.get(c.name)))
        elif c.kind == "categorical":
            fitted.append(fit_categorical_counts(c.name, summary.levels.get(c.name, {}), c.settings))
        elif c.kind == "datetime":
            fitted.append(datetimes[c.name])
        elif c.kind == "target":
            if positive is None:
                raise SchemaError(f"column {c.name!r} is target-encoded: fitting it needs the labels")
            encoder, folds = fit_target_folds(c.name, summary.targets.get(c.name, {}), positive, c.settings)
            fitted.append(encoder)
            cross_fitted.append(folds)
        elif c.kind == "boolean":
            present, trues = summary.booleans.get(c.name, (0, 0.0))
            if not present:
                raise SchemaError(
                    f"column {c.name!r} has no values in the training rows; ignore it (--ignore {c.name})"
                )
            missing = summary.rows["train"] - present
            fitted.append(FittedBoolean(c.name, indicator=missing > 0, fill=1.0 if trues / present >= 0.5 else 0.0))
        else:
            fitted.append(FittedHashed(c.name, int(c.settings["bits"])))
    return FittedFeatures(tuple(fitted), spec.strict), tuple(cross_fitted), pending


def _datetimes(
    columns: dict[str, dict[str, Any]], summary: Summary, job: Job, map_partitions: MapPartitions
) -> dict[str, FittedDatetime]:
    """``fit_datetime`` from the summary: parts seen, the latest time as reference, the median age (two
    exact order statistics of the timestamps: age falls as time rises) and the moments of the ages."""
    wanted: dict[tuple[str, int], RankQuery] = {}
    for name, options in columns.items():
        s = summary.datetimes.get(name, DatetimeSummary())
        if s.present == 0:
            raise SchemaError(f"column {name!r} has no values in the training rows; ignore it (--ignore {name})")
        unknown = sorted(set(options["parts"]) - set(PARTS))
        if unknown:
            raise SchemaError(f"column {name!r}: unknown datetime part(s) {unknown}; choose from {list(PARTS)}")
        for rank in (s.present - 1 - (s.present - 1) // 2, s.present - 1 - s.present // 2):
            wanted.setdefault((name, rank), RankQuery(rank))
    _run_rounds(wanted, {}, job, map_partitions, dict.fromkeys(columns, "datetime"))
    out: dict[str, FittedDatetime] = {}
    for name, options in columns.items():
        s = summary.datetimes[name]
        reference = s.high if options["reference"] is None else microseconds_of(name, options["reference"])
        parts = tuple(
            (part, tuple(sorted(s.parts.get(part, set()))))
            for part in PARTS
            if part in options["parts"] and len(s.parts.get(part, set())) > 1
        )
        newest = wanted[(name, s.present - 1 - (s.present - 1) // 2)].answer
        oldest = wanted[(name, s.present - 1 - s.present // 2)].answer
        fill = median_of((reference - float(newest)) / _DAY_US, (reference - float(oldest)) / _DAY_US)  # type: ignore[arg-type]
        ages = Moments(s.micros.n, (reference - s.micros.mean) / _DAY_US, s.micros.m2 / _DAY_US**2)
        full = ages.merge(Moments.constant(fill, s.missing))
        out[name] = FittedDatetime(
            name, parts, reference, fill, full.mean, full.std if full.std > 0 else 1.0, s.missing > 0
        )
    return out


def _check_values(plan: _NumericPlan) -> None:
    s, name = plan.summary, plan.name
    if s.present == 0:
        raise SchemaError(f"column {name!r} has no values in the training rows; ignore it (--ignore {name})")
    if s.infinite:
        raise SchemaError(
            f"column {name!r} holds infinite values in {s.infinite} training row(s) (inf, -inf or a number beyond "
            f"float64); replace them with a missing value or a bound, or leave the column out (--ignore {name})"
        )


def _fill_values(
    plans: dict[str, _NumericPlan], summary: Summary, job: Job, map_partitions: MapPartitions, defer: bool
) -> PendingFills:
    wanted: dict[tuple[str, int], RankQuery] = {}
    pending = PendingFills()
    for plan in plans.values():
        impute, s = plan.options["impute"], plan.summary
        if impute == "constant":
            if plan.options["fill_value"] is None:
                raise SchemaError(f"column {plan.name!r}: impute: constant needs fill_value: <number>")
            plan.fill = float(plan.options["fill_value"])
        elif impute == "mean":
            plan.fill = s.raw.mean
        else:
            queries = pending.queries if defer and s.missing == 0 else wanted
            for rank in ((s.present - 1) // 2, s.present // 2):
                queries.setdefault((plan.name, rank), RankQuery(rank))
    samples = {name: _sample_values(summary, name) for name in plans}
    for (name, _), query in [*wanted.items(), *pending.queries.items()]:
        first_range(query, plans[name].summary.present, samples[name])
    _run_rounds(wanted, {}, job, map_partitions)
    for plan in plans.values():
        if (plan.name, (plan.summary.present - 1) // 2) in pending.queries:
            # Provisional: no training row takes it (see PendingFills); within the range, for the checks below.
            sample = samples[plan.name]
            plan.fill = float(np.median(sample)) if sample.size else plan.summary.raw.mean
        elif plan.options["impute"] == "median":
            s = plan.summary
            lower, upper = wanted[(plan.name, (s.present - 1) // 2)], wanted[(plan.name, s.present // 2)]
            plan.fill = median_of(float(lower.answer), float(upper.answer))  # type: ignore[arg-type]
        if plan.options["log1p"] and (plan.summary.low <= -1 or plan.fill <= -1):
            raise SchemaError(
                f"column {plan.name!r}: log1p needs values > -1, the training rows reach {plan.summary.low!r}"
            )
    return pending


def _quantiles(
    plans: dict[str, _NumericPlan], summary: Summary, job: Job, map_partitions: MapPartitions
) -> dict[str, dict[float, float]]:
    """The quantiles each column's clip, bins or robust scale needs, of its filled (logged, clipped) values."""
    asked: dict[str, list[float]] = {}
    for plan in plans.values():
        o = plan.options
        qs: list[float] = []
        if o["clip"] is not None:
            qs += [float(q) for q in o["clip"]]
        if o["bins"] and o["bins"] > 1:
            qs += [float(q) for q in np.linspace(0, 1, int(o["bins"]) + 1)[1:-1]]
        elif o["scale"] == "robust":
            qs += [0.25, 0.5, 0.75]
        if qs:
            asked[plan.name] = qs
    wanted: dict[tuple[str, int], RankQuery] = {}
    for name, qs in asked.items():
        n = plans[name].n_values
        sample = _sample_values(summary, name, plans[name].fill)
        for q in qs:
            below, above, _ = quantile_ranks(n, q)
            for rank in (below, above):
                if (name, rank) not in wanted:
                    wanted[(name, rank)] = RankQuery(rank)
                    first_range(wanted[(name, rank)], n, sample)
    extra = {name: {int(order_key(np.array([plans[name].fill]))[0]): plans[name].summary.missing} for name in asked}
    _run_rounds(wanted, extra, job, map_partitions)
    out: dict[str, dict[float, float]] = {}
    for name, qs in asked.items():
        plan = plans[name]

        def value(q: float, plan: _NumericPlan = plan) -> float:
            below, above, gamma = quantile_ranks(plan.n_values, q)
            a = plan.transform(float(wanted[(plan.name, below)].answer))  # type: ignore[arg-type]
            b = plan.transform(float(wanted[(plan.name, above)].answer))  # type: ignore[arg-type]
            return linear_quantile(a, b, gamma)

        if plan.options["clip"] is not None:
            q_low, q_high = (float(q) for q in plan.options["clip"])
            plan.clip_low, plan.clip_high = value(q_low), value(q_high)
        out[name] = {q: value(q) for q in qs}
    return out


def _numeric(plan: _NumericPlan, quantiles: dict[float, float], clipped: Moments | None) -> FittedNumeric:
    o, s = plan.options, plan.summary
    common: dict[str, Any] = dict(
        name=plan.name,
        fill=plan.fill,
        indicator=bool(s.missing) if o["indicator"] == "auto" else bool(o["indicator"]),
        log1p=bool(o["log1p"]),
        low=float(s.low),
        high=float(s.high),
        out_of_range=o["out_of_range"],
        clip_low=plan.clip_low,
        clip_high=plan.clip_high,
    )
    if o["bins"] and o["bins"] > 1:
        inner = [quantiles[float(q)] for q in np.linspace(0, 1, int(o["bins"]) + 1)[1:-1]]
        return FittedNumeric(**common, edges=tuple(float(e) for e in np.unique(inner)))
    if o["scale"] == "standard":
        if clipped is not None:
            moments = clipped
        else:
            present = s.logged if o["log1p"] else s.raw
            moments = present.merge(Moments.constant(plan.transform(plan.fill), s.missing))
        center, scale = moments.mean, moments.std
    elif o["scale"] == "robust":
        center, scale = quantiles[0.5], quantiles[0.75] - quantiles[0.25]
    else:
        center, scale = 0.0, 1.0
    return FittedNumeric(**common, center=float(center), scale=float(scale) if scale > 0 else 1.0)


def _sample_values(summary: Summary, name: str, fill: float | None = None) -> NDArray[np.float64]:
    """The column's values in the row sample (missing ones as ``fill``, or left out when it is None)."""
    sample = summary.train_sample
    if sample is None or name not in sample.column_names:
        return np.empty(0)
    values = as_float(name, sample.column(name))
    missing = np.isnan(values)
    if fill is None:
        return values[~missing & np.isfinite(values)]
    values[missing] = fill
    return values[np.isfinite(values)]


def _run_rounds(
    wanted: dict[tuple[str, int], RankQuery],
    extra: dict[str, dict[int, int]],
    job: Job,
    map_partitions: MapPartitions,
    kinds: dict[str, str] | None = None,
) -> None:
    for _ in range(_MAX_ROUNDS):
        open_ = {k: q for k, q in wanted.items() if q.answer is None}
        if not open_:
            return
        replies = map_partitions(reply_partition, open_, kinds or {})
        for key, query in open_.items():
            merge_replies(query, [r[key] for r in replies], extra.get(key[0]))
    if any(q.answer is None for q in wanted.values()):  # pragma: no cover - 64 bits take at most 6 rounds
        raise RuntimeError("exact quantile search did not finish")


def reply_partition(
    partition: Partition, job: Job, queries: dict[tuple[str, int], RankQuery], kinds: dict[str, str]
) -> dict[tuple[str, int], RoundReply]:
    """One partition's replies to every open query (a worker task)."""
    replies = RankReplies(queries, kinds)
    for batch in row_batches(partition, job, side="train"):
        replies.add(batch.table)
    return replies.of_partition()


def moments_partition(
    partition: Partition, job: Job, transforms: dict[str, tuple[float, bool, float, float]]
) -> dict[str, Moments]:
    """Moments of each column's filled, logged and clipped values in one partition (a worker task)."""
    out: dict[str, Moments] = {}
    for batch in row_batches(partition, job, side="train"):
        for name, (fill, log1p, low, high) in transforms.items():
            v = as_float(name, batch.table.column(name))
            v[np.isnan(v)] = fill
            if log1p:
                v = np.log1p(v)
            v = np.clip(v, low, high)
            out[name] = out.get(name, Moments()).merge(Moments.of(v))
    return out
