"""Seeded, vectorised bootstrap confidence intervals for the headline metrics.

Resampling n rows with replacement a thousand times is 10^3 n index draws — seconds for a few hundred
thousand rows. Every metric here depends on the rows only through their (score, label, decision)
cell, so the bootstrap draws counts per cell instead: the Poisson bootstrap (each row's multiplicity
~ Poisson(1), so a cell of m rows gets Poisson(m)), exact in distribution for cells of identical rows.
Scores are grouped into at most ``max_cells`` quantile bins per label and decision (all distinct
scores when there are fewer); within a bin the spread of a row's loss is carried by a normal term of
the right variance. A discretised metric is centred back on the exact point estimate (the interval
is shifted by exact - discretised), so the binning costs no bias. Intervals are percentile intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._exceptions import ParameterError
from ..core.link import expit
from ._checks import EPS, check

__all__ = ["BOOTSTRAP_METRICS", "bootstrap_intervals"]

BOOTSTRAP_METRICS = (
    "log_loss",
    "brier",
    "roc_auc",
    "average_precision",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "fpr",
    "fnr",
    "ece",
    "ece_equal_mass",
    "calibration_slope",
    "calibration_intercept",
    "brier_reliability",
    "brier_resolution",
    "precision_at_k",
    "recall_at_k",
    "lift_at_k",
)
_WIDTH_BINS = 10  # the equal-width bins of the ECE


@dataclass
class _Cells:
    weight: NDArray[np.float64]  # rows (weighted) per cell
    positive: NDArray[np.bool_]
    decided: NDArray[np.bool_]
    order: NDArray[np.intp]  # score rank of the cell's bin (cells sorted by score within this)
    log_loss: tuple[NDArray[np.float64], NDArray[np.float64]]  # per-row mean and sd within the cell
    brier: tuple[NDArray[np.float64], NDArray[np.float64]]
    p_mean: NDArray[np.float64]  # mean probability in the cell
    z_mean: NDArray[np.float64]  # mean logit in the cell (calibration slope)
    width_bin: NDArray[np.intp]  # the cell's equal-width bin (cells never straddle one)
    mass_bin: NDArray[np.intp]  # the cell's equal-mass bin, cut on the sample's own score distribution


def _cells(
    y: NDArray[np.float64], p: NDArray[np.float64], w: NDArray[np.float64], threshold: float, max_cells: int
) -> _Cells:
    distinct, inverse = np.unique(p, return_inverse=True)
    if distinct.shape[0] <= max_cells:
        bins = inverse
    else:
        ranks = np.empty(p.shape[0], dtype=np.intp)
        ranks[np.argsort(p, kind="mergesort")] = np.arange(p.shape[0])
        bins = (ranks * max_cells // p.shape[0]).astype(np.intp)
    decided = p >= threshold
    width = np.minimum((p * _WIDTH_BINS).astype(np.intp), _WIDTH_BINS - 1)
    key = ((bins * _WIDTH_BINS + width) * 2 + y.astype(np.intp)) * 2 + decided
    cells, cell_of = np.unique(key, return_inverse=True)
    weight = np.bincount(cell_of, weights=w)
    q = np.clip(p, EPS, 1 - EPS)
    losses = {"log_loss": -(y * np.log(q) + (1 - y) * np.log1p(-q)), "brier": (p - y) ** 2}
    moments = {}
    for name, values in losses.items():
        mean = np.bincount(cell_of, weights=w * values) / weight
        second = np.bincount(cell_of, weights=w * values * values) / weight
        moments[name] = (mean, np.sqrt(np.maximum(second - mean * mean, 0.0)))
    z = np.log(q) - np.log1p(-q)
    # Equal-mass bins stay where the sample put them (a cell goes by the middle of its mass); the
    # exact-minus-discretised shift in ``bootstrap_intervals`` absorbs the cells cut by a boundary.
    cumulative = np.cumsum(weight) - 0.5 * weight
    mass_bin = np.minimum((cumulative / weight.sum() * _WIDTH_BINS).astype(np.intp), _WIDTH_BINS - 1)
    return _Cells(
        weight,
        (cells // 2) % 2 == 1,
        cells % 2 == 1,
        cells // (4 * _WIDTH_BINS),
        moments["log_loss"],
        moments["brier"],
        np.bincount(cell_of, weights=w * p) / weight,
        np.bincount(cell_of, weights=w * z) / weight,
        ((cells // 4) % _WIDTH_BINS).astype(np.intp),
        mass_bin,
    )


def _statistics(
    cells: _Cells, counts: NDArray[np.float64], noise: dict[str, NDArray[np.float64]] | None, top_fraction: float
) -> dict[str, NDArray[np.float64]]:
    """Each metric for each row of ``counts`` (resamples x cells)."""
    total = counts.sum(axis=1)
    out: dict[str, NDArray[np.float64]] = {}
    for name in ("log_loss", "brier"):
        mean, sd = getattr(cells, name)
        value = counts @ mean
        if noise is not None:
            value += (np.sqrt(counts) * noise[name]) @ sd if np.any(sd) else 0.0
        out[name] = value / total
    pos = counts * cells.positive
    neg = counts * ~cells.positive
    # Per score bin, ascending: positives and negatives (cells are sorted by bin).
    starts = np.flatnonzero(np.r_[True, np.diff(cells.order) != 0])
    pos_bin = np.add.reduceat(pos, starts, axis=1)
    neg_bin = np.add.reduceat(neg, starts, axis=1)
    P, N = pos_bin.sum(axis=1), neg_bin.sum(axis=1)
    below = np.cumsum(neg_bin, axis=1) - neg_bin
    with np.errstate(invalid="ignore", divide="ignore"):
        out["roc_auc"] = (pos_bin * (below + 0.5 * neg_bin)).sum(axis=1) / (P * N)
        tp = np.cumsum(pos_bin[:, ::-1], axis=1)
        predicted = np.cumsum((pos_bin + neg_bin)[:, ::-1], axis=1)
        precision_curve = np.where(predicted > 0, tp / np.maximum(predicted, 1e-300), 0.0)
        recall_step = pos_bin[:, ::-1] / P[:, None]
        out["average_precision"] = (recall_step * precision_curve).sum(axis=1)
        tp_t = (counts * (cells.positive & cells.decided)).sum(axis=1)
        fp_t = (counts * (~cells.positive & cells.decided)).sum(axis=1)
        tn_t = (counts * (~cells.positive & ~cells.decided)).sum(axis=1)
        out["accuracy"] = (tp_t + tn_t) / total
        out["precision"] = np.where(tp_t + fp_t > 0, tp_t / (tp_t + fp_t), 0.0)
        out["recall"] = tp_t / P
        pr = out["precision"] + out["recall"]
        out["f1"] = np.where(pr > 0, 2 * out["precision"] * out["recall"] / np.where(pr > 0, pr, 1.0), 0.0)
        out["fpr"] = fp_t / N
        out["fnr"] = 1.0 - out["recall"]
        found = _found_in_top(pos_bin[:, ::-1], (pos_bin + neg_bin)[:, ::-1], top_fraction * total)
        out["precision_at_k"] = found / (top_fraction * total)
        out["recall_at_k"] = found / P
        out["lift_at_k"] = out["precision_at_k"] / (P / total)
    for name, bins in (("ece", cells.width_bin), ("ece_equal_mass", cells.mass_bin)):
        onehot = np.eye(_WIDTH_BINS)[bins]
        out[name] = np.abs(pos @ onehot - (counts * cells.p_mean) @ onehot).sum(axis=1) / total
    # Murphy's reliability and resolution over the equal-width bins (as brier_decomposition).
    onehot = np.eye(_WIDTH_BINS)[cells.width_bin]
    in_bin, predicted, observed = counts @ onehot, (counts * cells.p_mean) @ onehot, pos @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.where(in_bin > 0, (predicted - observed) ** 2 / np.where(in_bin > 0, in_bin, 1.0), 0.0)
        base = (P / total)[:, None]
        spread = np.where(in_bin > 0, in_bin * (observed / np.where(in_bin > 0, in_bin, 1.0) - base) ** 2, 0.0)
    out["brier_reliability"] = gap.sum(axis=1) / total
    out["brier_resolution"] = spread.sum(axis=1) / total
    out["calibration_intercept"], out["calibration_slope"] = _recalibration(
        counts, cells.positive.astype(np.float64), cells.z_mean
    )
    return out


def _found_in_top(
    pos_desc: NDArray[np.float64], all_desc: NDArray[np.float64], k: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Positives among the k highest-scored rows of each resample (score bins highest first); the bin
    the k-th row falls in contributes pro rata, as its rows' order within the bin is arbitrary."""
    taken = np.cumsum(all_desc, axis=1)
    hits = np.cumsum(pos_desc, axis=1)
    rows = np.arange(taken.shape[0])
    j = np.minimum((taken < k[:, None]).sum(axis=1), taken.shape[1] - 1)
    taken_before = taken[rows, j] - all_desc[rows, j]
    hits_before = hits[rows, j] - pos_desc[rows, j]
    share = np.clip((k - taken_before) / np.maximum(all_desc[rows, j], 1e-300), 0.0, 1.0)
    return hits_before + share * pos_desc[rows, j]  # type: ignore[no-any-return]


def _recalibration(
    counts: NDArray[np.float64], y: NDArray[np.float64], z: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The logistic recalibration (a, b) of y ~ a + b z for every resample at once (Newton on (a, b))."""
    a = np.zeros(counts.shape[0])
    b = np.ones(counts.shape[0])
    for _ in range(25):
        q = expit(a[:, None] + b[:, None] * z)  # probabilities of exactly 0 or 1 give |z| = 34.5
        r = counts * (y - q)
        h = counts * q * (1 - q)
        g0, g1 = r.sum(axis=1), r @ z
        h00, h01, h11 = h.sum(axis=1), h @ z, h @ (z * z)
        det = h00 * h11 - h01 * h01
        with np.errstate(invalid="ignore", divide="ignore"):
            da, db = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        a, b = a + np.nan_to_num(da), b + np.nan_to_num(db)
        if np.nanmax(np.abs(np.r_[da, db])) < 1e-10:
            break
    return a, b


def check_resampling(n_resamples: int, level: float) -> None:
    if not (isinstance(n_resamples, int) and n_resamples >= 10):
        raise ParameterError(f"n_resamples must be an integer >= 10, got {n_resamples!r}")
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level!r}")


def bootstrap_intervals(
    y: ArrayLike,
    p: ArrayLike,
    exact: dict[str, float],
    *,
    threshold: float = 0.5,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    sample_weight: ArrayLike | None = None,
    max_cells: int = 2048,
    chunk: int = 100,
    top_fraction: float = 0.1,
) -> dict[str, tuple[float, float]]:
    """(low, high) percentile interval of each metric in ``exact`` (the point estimates, by name);
    the @k metrics take k as ``top_fraction`` of each resample's rows."""
    check_resampling(n_resamples, level)
    y_arr, p_arr, w = check(y, p, sample_weight)
    cells = _cells(y_arr, p_arr, w, threshold, max_cells)
    if not 0 < top_fraction <= 1:
        raise ParameterError(f"top_fraction must be in (0, 1], got {top_fraction!r}")
    centre = _statistics(cells, cells.weight[None, :], None, top_fraction)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[NDArray[np.float64]]] = {name: [] for name in centre}
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        counts = rng.poisson(cells.weight, size=(size, cells.weight.shape[0])).astype(np.float64)
        noise = {name: rng.standard_normal(counts.shape) for name in ("log_loss", "brier")}
        for name, values in _statistics(cells, counts, noise, top_fraction).items():
            draws[name].append(values)
    alpha = (1 - level) / 2
    intervals = {}
    for name, point in exact.items():
        if name not in draws:
            continue
        values = np.concatenate(draws[name])
        values = values[np.isfinite(values)]
        shift = point - float(centre[name][0])
        low, high = np.quantile(values, [alpha, 1 - alpha]) + shift
        intervals[name] = (float(low), float(high))
    return intervals
