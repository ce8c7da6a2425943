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

from ._checks import EPS
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
    """(low, high) percentile interval of each metric in ``exact`` among MULTICLASS_BOOTSTRAP_METRICS
    (``roc_auc_ovr`` is the macro average)."""
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
    wanted = [name for name in exact if name in MULTICLASS_BOOTSTRAP_METRICS]
    classes = (
        [_SortedClass(y_arr == k, P_arr[:, k]) for k in range(P_arr.shape[1]) if np.any(y_arr == k)]
        if "roc_auc_ovr" in wanted
        else []
    )
    rng = np.random.default_rng(seed)
    draws: dict[str, list[NDArray[np.float64]]] = {name: [] for name in wanted}
    for start in range(0, n_resamples, chunk):
        counts = rng.poisson(1.0, size=(min(chunk, n_resamples - start), y_arr.shape[0])) * w
        total = counts.sum(axis=1)
        for name in wanted:
            if name == "roc_auc_ovr":
                draws[name].append(np.mean([c.auc(counts) for c in classes], axis=0))
            else:
                draws[name].append(counts @ per_row[name] / total)
    alpha = (1 - level) / 2
    intervals = {}
    for name in wanted:
        values = np.concatenate(draws[name])
        low, high = np.quantile(values[np.isfinite(values)], [alpha, 1 - alpha])
        intervals[name] = (float(low), float(high))
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
    """Log loss, Brier, accuracy, macro and prevalence-weighted one-vs-rest AUC, with intervals."""
    y_arr, P_arr, w = _check(y, P, sample_weight)
    metrics: dict[str, Any] = {
        "n_rows": int(y_arr.shape[0]),
        "class_rates": (np.bincount(y_arr, weights=w, minlength=P_arr.shape[1]) / w.sum()).tolist(),
        "log_loss": log_loss_multiclass(y_arr, P_arr, w),
        "brier": brier_multiclass(y_arr, P_arr, w),
        "accuracy": accuracy_multiclass(y_arr, P_arr, w),
        "roc_auc_ovr": roc_auc_ovr(y_arr, P_arr, sample_weight),
        "roc_auc_ovr_weighted": roc_auc_ovr(y_arr, P_arr, sample_weight, "weighted"),
    }
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
