"""Seeded, vectorised bootstrap confidence intervals for the headline metrics.

Resampling n rows with replacement a thousand times is 10^3 n index draws — seconds for a few hundred
thousand rows. Every metric here depends on the rows only through their (score, label, decision)
cell, so the bootstrap draws counts per cell instead: the Poisson bootstrap (each row's multiplicity
~ Poisson(1), so a cell of m rows gets Poisson(m)), exact in distribution for cells of identical rows.
Scores are grouped into at most ``max_cells`` quantile bins per label and decision (all distinct
scores when there are fewer); within a bin the spread of a row's loss is carried by a normal term of
the right variance. A discretised metric is centred back on the exact point estimate (the interval
is shifted by exact - discretised), so the binning costs no bias.

Intervals are BCa (``bca.py``): the bias correction from the resamples, the acceleration from a
delete-group jackknife (``bca.JACKKNIFE_GROUPS`` seeded groups of rows, recomputed from the cells).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._exceptions import ParameterError
from ..core.link import expit
from ._checks import EPS, check
from .bca import JACKKNIFE_GROUPS, acceleration, bca_interval

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
    cell_of: NDArray[np.intp]  # the cell of each row


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
    weight = np.bincount(cell_of, weights=w).astype(np.float64)
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
        cell_of.astype(np.intp),
    )


def _statistics(
    cells: _Cells,
    counts: NDArray[np.float64],
    noise: dict[str, NDArray[np.float64]] | None,
    top_fraction: float,
    wanted: frozenset[str],
    recalibration: tuple[float, float] | None,
) -> dict[str, NDArray[np.float64]]:
    """Each metric in ``wanted`` for each row of ``counts`` (resamples x cells); NaN where a resample
    leaves a metric undefined (AUC without a positive, the slope of separated classes)."""
    total = counts.sum(axis=1)
    out: dict[str, NDArray[np.float64]] = {}
    pos = counts * cells.positive
    P, N = pos.sum(axis=1), total - pos.sum(axis=1)
    # A resample without a row, a positive or a negative divides by zero: NaN, left out of the interval.
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in ("log_loss", "brier"):
            if name in wanted:
                mean, sd = getattr(cells, name)
                value = counts @ mean
                if noise is not None and np.any(sd):
                    value += (np.sqrt(counts) * noise[name]) @ sd
                out[name] = value / total
        if wanted & {"roc_auc", "average_precision", "precision_at_k", "recall_at_k", "lift_at_k"}:
            out.update(_ranking(cells, counts, pos, P, N, total, top_fraction))
        if wanted & {"accuracy", "precision", "recall", "f1", "fpr", "fnr"}:
            out.update(_at_threshold(cells, counts, P, N, total))
        for name, bins in (("ece", cells.width_bin), ("ece_equal_mass", cells.mass_bin)):
            if name in wanted:
                onehot = np.eye(_WIDTH_BINS)[bins]
                out[name] = np.abs(pos @ onehot - (counts * cells.p_mean) @ onehot).sum(axis=1) / total
        if wanted & {"brier_reliability", "brier_resolution"}:
            # Murphy's reliability and resolution over the equal-width bins (as brier_decomposition).
            onehot = np.eye(_WIDTH_BINS)[cells.width_bin]
            in_bin, predicted, observed = counts @ onehot, (counts * cells.p_mean) @ onehot, pos @ onehot
            gap = np.where(in_bin > 0, (predicted - observed) ** 2 / np.where(in_bin > 0, in_bin, 1.0), 0.0)
            base = (P / total)[:, None]
            spread = np.where(in_bin > 0, in_bin * (observed / np.where(in_bin > 0, in_bin, 1.0) - base) ** 2, 0.0)
            out["brier_reliability"] = gap.sum(axis=1) / total
            out["brier_resolution"] = spread.sum(axis=1) / total
    if recalibration is not None and wanted & {"calibration_slope", "calibration_intercept"}:
        out["calibration_intercept"], out["calibration_slope"] = _recalibration(
            counts, cells.positive, cells.z_mean, recalibration
        )
    return {name: values for name, values in out.items() if name in wanted}


def _at_threshold(
    cells: _Cells,
    counts: NDArray[np.float64],
    P: NDArray[np.float64],
    N: NDArray[np.float64],
    total: NDArray[np.float64],
) -> dict[str, NDArray[np.float64]]:
    """The decisions at the threshold (0 where a ratio has no denominator, as ``scores.at_threshold``)."""
    tp = (counts * (cells.positive & cells.decided)).sum(axis=1)
    fp = (counts * (~cells.positive & cells.decided)).sum(axis=1)
    tn = (counts * (~cells.positive & ~cells.decided)).sum(axis=1)
    precision = np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1.0), 0.0)
    recall = tp / P
    pr = precision + recall
    f1 = np.where(pr > 0, 2 * precision * recall / np.where(pr > 0, pr, 1.0), 0.0)
    return {
        "accuracy": (tp + tn) / total,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "fpr": fp / N,
        "fnr": 1.0 - recall,
    }


def _ranking(
    cells: _Cells,
    counts: NDArray[np.float64],
    pos: NDArray[np.float64],
    P: NDArray[np.float64],
    N: NDArray[np.float64],
    total: NDArray[np.float64],
    top_fraction: float,
) -> dict[str, NDArray[np.float64]]:
    """The metrics that need the rows in score order: AUC, average precision, and the top share."""
    # Per score bin, ascending: positives and negatives (cells are sorted by bin).
    starts = np.flatnonzero(np.r_[True, np.diff(cells.order) != 0])
    pos_bin = np.add.reduceat(pos, starts, axis=1)
    neg_bin = np.add.reduceat(counts, starts, axis=1) - pos_bin
    below = np.cumsum(neg_bin, axis=1) - neg_bin
    out = {"roc_auc": (pos_bin * (below + 0.5 * neg_bin)).sum(axis=1) / (P * N)}
    tp = np.cumsum(pos_bin[:, ::-1], axis=1)
    predicted = np.cumsum((pos_bin + neg_bin)[:, ::-1], axis=1)
    precision_curve = np.where(predicted > 0, tp / np.maximum(predicted, 1e-300), 0.0)
    out["average_precision"] = (pos_bin[:, ::-1] / P[:, None] * precision_curve).sum(axis=1)
    found = _found_in_top(pos_bin[:, ::-1], (pos_bin + neg_bin)[:, ::-1], top_fraction * total)
    out["precision_at_k"] = found / (top_fraction * total)
    out["recall_at_k"] = found / P
    out["lift_at_k"] = out["precision_at_k"] / (P / total)
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
    counts: NDArray[np.float64], positive: NDArray[np.bool_], z: NDArray[np.float64], start: tuple[float, float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The logistic recalibration (a, b) of y ~ a + b z for every resample at once: Newton from the
    full sample's estimate ``start``, where a resample's estimate lies close (three steps; a start at
    (0, 1) stalls on a Hessian of 1e-15 when p is exactly 0 or 1), each step only on the resamples not
    yet converged. NaN where Newton has not converged in 25 steps: that is where the estimate does not
    exist (one class, constant or separating scores; ``reliability._undefined``), since the
    log-likelihood is concave and a point where the steps vanish is its maximum; without one, the
    steps do not shrink."""
    y = positive.astype(np.float64)
    centre = float(z.mean())  # centred z keeps the 2 x 2 Hessian well conditioned
    zc = z - centre
    a = np.full(counts.shape[0], start[0] + start[1] * centre)
    b = np.full(counts.shape[0], start[1])
    converged = np.zeros(counts.shape[0], dtype=bool)
    active = np.arange(counts.shape[0])
    for _ in range(25):
        c = counts if active.shape[0] == counts.shape[0] else counts[active]
        # A diverging resample may overflow to inf or NaN: its steps never pass the test below.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            q = expit(a[active, None] + b[active, None] * zc)
            r = c * (y - q)
            h = c * q * (1 - q)
            g0, g1 = r.sum(axis=1), r @ zc
            h00, h01, h11 = h.sum(axis=1), h @ zc, h @ (zc * zc)
            det = h00 * h11 - h01 * h01
            usable = det > 0
            safe = np.where(usable, det, 1.0)
            da = np.where(usable, (h11 * g0 - h01 * g1) / safe, 0.0)
            db = np.where(usable, (h00 * g1 - h01 * g0) / safe, 0.0)
            a[active] += da
            b[active] += db
        # Newton's error after a step is about the square of the step: a step under 1e-6 leaves an
        # error near 1e-12, far below any resampling spread (the last, confirming step is skipped).
        done = usable & (np.abs(da) + np.abs(db) < 1e-6)
        converged[active[done]] = True
        active = active[~done]
        if active.shape[0] == 0:
            break
    with np.errstate(invalid="ignore"):  # a diverged resample may hold inf
        return np.where(converged, a - b * centre, np.nan), np.where(converged, b, np.nan)


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
    """(low, high) BCa interval of each metric in ``exact`` (the point estimates, by name; names not
    in BOOTSTRAP_METRICS and undefined estimates, None or NaN, are skipped); the @k metrics take k as
    ``top_fraction`` of each resample's rows. A metric undefined in all but a few resamples gets none."""
    check_resampling(n_resamples, level)
    y_arr, p_arr, w = check(y, p, sample_weight)
    if not 0 < top_fraction <= 1:
        raise ParameterError(f"top_fraction must be in (0, 1], got {top_fraction!r}")
    wanted = frozenset(
        name for name, value in exact.items() if name in BOOTSTRAP_METRICS and value is not None and np.isfinite(value)
    )
    if not wanted:
        return {}
    cells = _cells(y_arr, p_arr, w, threshold, max_cells)
    recalibration = _recalibration_start(cells) if wanted & {"calibration_slope", "calibration_intercept"} else None
    centre = _statistics(cells, cells.weight[None, :], None, top_fraction, wanted, recalibration)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[NDArray[np.float64]]] = {name: [] for name in centre}
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        counts = rng.poisson(cells.weight, size=(size, cells.weight.shape[0])).astype(np.float64)
        noise: dict[str, NDArray[np.float64]] = {
            name: rng.standard_normal(counts.shape) for name in ("log_loss", "brier") if name in wanted
        }
        for name, values in _statistics(cells, counts, noise, top_fraction, wanted, recalibration).items():
            draws[name].append(values)
    groups = min(JACKKNIFE_GROUPS, y_arr.shape[0])
    member = rng.permutation(y_arr.shape[0]) % groups
    n_cells = cells.weight.shape[0]
    removed = np.bincount(member * n_cells + cells.cell_of, weights=w, minlength=groups * n_cells)
    left = np.maximum(cells.weight[None, :] - removed.reshape(groups, n_cells), 0.0)
    jackknife = _statistics(cells, left, None, top_fraction, wanted, recalibration)
    intervals = {}
    for name in centre:
        point = float(centre[name][0])
        if not np.isfinite(point):  # defined on the rows, not on their cells (binned scores separate)
            continue
        bounds = bca_interval(np.concatenate(draws[name]), point, acceleration(jackknife[name]), level)
        if bounds is None:
            continue
        shift = exact[name] - point
        intervals[name] = (bounds[0] + shift, bounds[1] + shift)
    return intervals


def _recalibration_start(cells: _Cells) -> tuple[float, float] | None:
    """The recalibration fitted to the cells (None where it does not exist): every resample starts here."""
    from .reliability import _in_the_large, _undefined
    from .reliability import _recalibration as fit

    y = cells.positive.astype(np.float64)
    if _undefined(y, cells.z_mean, cells.weight):
        return None
    return fit(y, cells.z_mean, cells.weight, _in_the_large(y, cells.z_mean, cells.weight))
