"""All the metrics of a binary model at once, with bootstrap confidence intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check
from .bootstrap import BOOTSTRAP_METRICS, bootstrap_intervals
from .reliability import brier_decomposition, calibration_slope_intercept, expected_calibration_error
from .scores import accuracy, at_threshold, at_top, average_precision, brier_score, log_loss, roc_auc

__all__ = ["evaluate", "evaluate_binary"]


def evaluate_binary(
    y: ArrayLike, p: ArrayLike, threshold: float = 0.5, sample_weight: ArrayLike | None = None
) -> dict[str, float]:
    """The headline metrics of a binary model, as a flat dict."""
    y_arr, _, _ = check(y, p, sample_weight)
    return {
        "n_rows": float(len(y_arr)),
        "positive_rate": float(np.mean(y_arr)),
        "log_loss": log_loss(y, p, sample_weight),
        "roc_auc": roc_auc(y, p, sample_weight),
        "brier": brier_score(y, p, sample_weight),
        "accuracy": accuracy(y, p, threshold, sample_weight),
        "threshold": float(threshold),
    }


def evaluate(
    y: ArrayLike,
    p: ArrayLike,
    *,
    threshold: float = 0.5,
    sample_weight: ArrayLike | None = None,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    top_fraction: float = 0.1,
) -> dict[str, Any]:
    """Every metric (ranking, proper scores, calibration, decisions at ``threshold``, precision /
    recall / lift among the top ``top_fraction`` of scores) and, with ``n_bootstrap`` > 0, a ``level``
    confidence interval for each headline metric under "intervals"."""
    y_arr, p_arr, w = check(y, p, sample_weight)
    decisions = at_threshold(y_arr, p_arr, threshold, w)
    decomposition = brier_decomposition(y_arr, p_arr, 10, w)
    metrics: dict[str, Any] = {
        "n_rows": int(y_arr.shape[0]),
        "positive_rate": float(w @ y_arr / w.sum()),
        "threshold": float(threshold),
        "log_loss": log_loss(y_arr, p_arr, w),
        "brier": brier_score(y_arr, p_arr, w),
        "roc_auc": roc_auc(y_arr, p_arr, None if sample_weight is None else w),
        "average_precision": average_precision(y_arr, p_arr, w),
        "accuracy": accuracy(y_arr, p_arr, threshold, w),
        "precision": decisions["precision"],
        "recall": decisions["recall"],
        "f1": decisions["f_beta"],
        "fpr": decisions["fpr"],
        "fnr": decisions["fnr"],
        "confusion": {k: decisions[k] for k in ("tp", "fp", "tn", "fn")},
        "ece": expected_calibration_error(y_arr, p_arr, 10, "width", w),
        "ece_equal_mass": expected_calibration_error(y_arr, p_arr, 10, "mass", w),
        "brier_decomposition": decomposition,
        "brier_reliability": decomposition["reliability"],
        "brier_resolution": decomposition["resolution"],
        **{f"calibration_{k}": v for k, v in calibration_slope_intercept(y_arr, p_arr, w).items()},
        "top_fraction": float(top_fraction),
        **at_top(y_arr, p_arr, top_fraction, w),
    }
    if n_bootstrap:
        headline = BOOTSTRAP_METRICS
        metrics["intervals"] = {
            "level": level,
            "n_resamples": n_bootstrap,
            "seed": seed,
            **{
                name: list(bounds)
                for name, bounds in bootstrap_intervals(
                    y_arr,
                    p_arr,
                    {name: metrics[name] for name in headline},
                    threshold=threshold,
                    n_resamples=n_bootstrap,
                    level=level,
                    seed=seed,
                    sample_weight=sample_weight,
                    top_fraction=top_fraction,
                ).items()
            },
        }
    return metrics
