"""All the metrics of a binary model at once, with bootstrap confidence intervals.

Some metrics do not exist for some samples: ROC AUC and the calibration slope need both classes; the
slope also needs predictions that vary and do not separate the classes (hard 0/1 predictions that are
all right). ``evaluate`` never raises for these: such a metric is None, its reason is under
"undefined", and it gets no interval. None rather than NaN, so the result stays valid JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._exceptions import DataError
from ._checks import check
from .bootstrap import BOOTSTRAP_METRICS, bootstrap_intervals
from .reliability import brier_decomposition, calibration_with_reasons, expected_calibration_error
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
    confidence interval for each headline metric under "intervals". A metric undefined on this sample
    is None, with its reason under "undefined" (see the module docstring).

    Log loss clips probabilities to [1e-15, 1 - 1e-15], so a confident mistake (p exactly 0 or 1, and
    wrong) costs -log(1e-15) = 34.5 rather than infinity: scikit-learn's ``log_loss`` before 1.5
    (``eps=1e-15``); scikit-learn 1.5 and later clip at float64 machine epsilon and charge 36.0.
    """
    y_arr, p_arr, w = check(y, p, sample_weight)
    undefined: dict[str, str] = {}

    def defined(name: str, compute: Callable[[], float]) -> float | None:
        try:
            return compute()
        except DataError as exc:  # the metric's own account of why this sample has none
            undefined[name] = str(exc)
            return None

    decisions = at_threshold(y_arr, p_arr, threshold, w)
    decomposition = brier_decomposition(y_arr, p_arr, 10, w)
    calibration, reasons = calibration_with_reasons(y_arr, p_arr, w)
    undefined.update({f"calibration_{k}": why for k, why in reasons.items()})
    metrics: dict[str, Any] = {
        "n_rows": int(y_arr.shape[0]),
        "positive_rate": float(w @ y_arr / w.sum()),
        "threshold": float(threshold),
        "log_loss": log_loss(y_arr, p_arr, w),
        "brier": brier_score(y_arr, p_arr, w),
        "roc_auc": defined("roc_auc", lambda: roc_auc(y_arr, p_arr, None if sample_weight is None else w)),
        "average_precision": defined("average_precision", lambda: average_precision(y_arr, p_arr, w)),
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
        **{f"calibration_{k}": None if math.isnan(v) else v for k, v in calibration.items()},
        "top_fraction": float(top_fraction),
        **_top(y_arr, p_arr, top_fraction, w, undefined),
    }
    if undefined:
        metrics["undefined"] = undefined
    if n_bootstrap:
        headline = [name for name in BOOTSTRAP_METRICS if metrics[name] is not None]
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


def _top(y: Any, p: Any, fraction: float, w: Any, undefined: dict[str, str]) -> Mapping[str, float | None]:
    try:
        return at_top(y, p, fraction, w)
    except DataError as exc:
        # No positive label anywhere: none in the top share either (precision 0), but recall and
        # lift divide by the number of positives.
        undefined.update({"recall_at_k": str(exc), "lift_at_k": str(exc)})
        return {"precision_at_k": 0.0, "recall_at_k": None, "lift_at_k": None}
