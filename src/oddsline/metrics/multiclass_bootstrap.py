"""Bootstrap confidence intervals and a one-call evaluation for multiclass predictions.

Each resample gives every row a Poisson(1) multiplicity (times its weight), drawn in chunks, so the
proper scores and accuracy are matrix products (resamples x rows) @ (per-row value). The one-vs-rest
AUC of class k is computed per resample on the rows sorted once by P[:, k]: with ties grouped, the
AUC is sum over score groups of positives x (negatives below + half the tied ones) / (P x N).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._exceptions import DataError
from ._checks import EPS
from .bca import JACKKNIFE_GROUPS, acceleration, bca_interval
from .bootstrap import check_resampling
from .multiclass import _check, accuracy_multiclass, brier_multiclass, log_loss_multiclass, roc_auc_ovr

__all__ = ["MULTICLASS_BOOTSTRAP_METRICS", "bootstrap_intervals_multiclass", "evaluate_multiclass"]

MULTICLASS_BOOTSTRAP_METRICS = ("log_loss", "brier", "accuracy", "roc_auc_ovr")


class _SortedClass:
    """Rows sorted by one class's probability, with their tie groups."""

    def __init__(self, positive: NDArray[np.bool_], score: NDArray[np.float64]) -> None:
        self.order = np.argsort(score, kind="mergesort")
        ranked = score[self.order]
        self.starts = np.flatnonzero(np.r_[True, np.diff(ranked) != 0])
        self.positive = positive[self.order]

    def auc(self, counts: NDArray[np.float64]) -> NDArray[np.float64]:
        c = counts[:, self.order]
        pos = np.add.reduceat(c * self.positive, self.starts, axis=1)
        neg = np.add.reduceat(c * ~self.positive, self.starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg
        with np.errstate(invalid="ignore", divide="ignore"):
            return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))  # type: ignore[no-any-return]


def bootstrap_intervals_multiclass(
    y: ArrayLike,
    P: ArrayLike,
    exact: dict[str, float],
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    sample_weight: ArrayLike | None = None,
    chunk: int = 50,
) -> dict[str, tuple[float, float]]:
    """(low, high) BCa interval of each metric in ``exact`` among MULTICLASS_BOOTSTRAP_METRICS
    (``roc_auc_ovr`` is the macro average; None estimates are skipped)."""
    check_resampling(n_resamples, level)
    y_arr, P_arr, w = _check(y, P, sample_weight)
    rows = np.arange(y_arr.shape[0])
    onehot = np.zeros_like(P_arr)
    onehot[rows, y_arr] = 1.0
    per_row = {
        "log_loss": -np.log(np.clip(P_arr[rows, y_arr], EPS, 1.0)),
        "brier": ((P_arr - onehot) ** 2).sum(axis=1),
        "accuracy": (P_arr.argmax(axis=1) == y_arr).astype(np.float64),
    }
    wanted = [name for name in exact if name in MULTICLASS_BOOTSTRAP_METRICS and exact[name] is not None]
    classes = (
        [_SortedClass(y_arr == k, P_arr[:, k]) for k in range(P_arr.shape[1]) if np.any(y_arr == k)]
        if "roc_auc_ovr" in wanted
        else []
    )
    rng = np.random.default_rng(seed)

    def statistics(counts: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
        total = counts.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty resample: NaN, left out
            return {
                name: np.mean([c.auc(counts) for c in classes], axis=0)
                if name == "roc_auc_ovr"
                else counts @ per_row[name] / total
                for name in wanted
            }

    draws: dict[str, list[NDArray[np.float64]]] = {name: [] for name in wanted}
    for start in range(0, n_resamples, chunk):
        counts = rng.poisson(1.0, size=(min(chunk, n_resamples - start), y_arr.shape[0])) * w
        for name, values in statistics(counts).items():
            draws[name].append(values)
    # BCa as the binary intervals (bootstrap.py): acceleration from a delete-group jackknife.
    groups = min(JACKKNIFE_GROUPS, y_arr.shape[0])
    member = rng.permutation(y_arr.shape[0]) % groups
    parts: dict[str, list[NDArray[np.float64]]] = {name: [] for name in wanted}
    for first in range(0, groups, chunk):  # (groups x rows) at most chunk groups at a time, as the resamples
        left_out = member[None, :] == np.arange(first, min(first + chunk, groups))[:, None]
        for name, values in statistics(np.where(left_out, 0.0, w[None, :])).items():
            parts[name].append(values)
    jackknife = {name: np.concatenate(values) for name, values in parts.items()}
    intervals = {}
    for name in wanted:
        bounds = bca_interval(np.concatenate(draws[name]), exact[name], acceleration(jackknife[name]), level)
        if bounds is not None:
            intervals[name] = bounds
    return intervals


def evaluate_multiclass(
    y: ArrayLike,
    P: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Log loss, Brier, accuracy, macro and prevalence-weighted one-vs-rest AUC, with intervals; the AUCs
    are None, with the reason under "undefined", when a class has no rows (as ``evaluate``)."""
    y_arr, P_arr, w = _check(y, P, sample_weight)
    metrics: dict[str, Any] = {
        "n_rows": int(y_arr.shape[0]),
        "class_rates": (np.bincount(y_arr, weights=w, minlength=P_arr.shape[1]) / w.sum()).tolist(),
        "log_loss": log_loss_multiclass(y_arr, P_arr, w),
        "brier": brier_multiclass(y_arr, P_arr, w),
        "accuracy": accuracy_multiclass(y_arr, P_arr, w),
    }
    try:
        metrics["roc_auc_ovr"] = roc_auc_ovr(y_arr, P_arr, sample_weight)
        metrics["roc_auc_ovr_weighted"] = roc_auc_ovr(y_arr, P_arr, sample_weight, "weighted")
    except DataError as exc:  # a class without rows: its one-vs-rest AUC, and so the average, is undefined
        metrics["roc_auc_ovr"] = metrics["roc_auc_ovr_weighted"] = None
        metrics["undefined"] = {"roc_auc_ovr": str(exc), "roc_auc_ovr_weighted": str(exc)}
    if n_bootstrap:
        bounds = bootstrap_intervals_multiclass(
            y_arr, P_arr, metrics, n_resamples=n_bootstrap, level=level, seed=seed, sample_weight=sample_weight
        )
        metrics["intervals"] = {
            "level": level,
            "n_resamples": n_bootstrap,
            "seed": seed,
            **{k: list(v) for k, v in bounds.items()},
        }
    return metrics
