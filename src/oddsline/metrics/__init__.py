"""Metrics of binary probabilistic predictions, their curves, calibration diagnostics, and bootstrap
confidence intervals. ``y`` is 0/1, ``p`` the probability of class 1; every metric takes weights."""

from .bootstrap import BOOTSTRAP_METRICS, bootstrap_intervals
from .curves import lift_table, pr_curve, roc_curve
from .evaluate import evaluate, evaluate_binary
from .multiclass import accuracy_multiclass, brier_multiclass, log_loss_multiclass, roc_auc_ovr
from .multiclass_bootstrap import MULTICLASS_BOOTSTRAP_METRICS, bootstrap_intervals_multiclass, evaluate_multiclass
from .reliability import brier_decomposition, calibration_slope_intercept, expected_calibration_error, reliability_curve
from .scores import (
    accuracy,
    at_threshold,
    at_top,
    average_precision,
    brier_score,
    confusion,
    log_loss,
    precision_at_k,
    recall_at_k,
    roc_auc,
)

__all__ = [
    "BOOTSTRAP_METRICS",
    "MULTICLASS_BOOTSTRAP_METRICS",
    "accuracy",
    "accuracy_multiclass",
    "at_threshold",
    "at_top",
    "average_precision",
    "bootstrap_intervals",
    "bootstrap_intervals_multiclass",
    "brier_decomposition",
    "brier_multiclass",
    "brier_score",
    "calibration_slope_intercept",
    "confusion",
    "evaluate",
    "evaluate_binary",
    "evaluate_multiclass",
    "expected_calibration_error",
    "lift_table",
    "log_loss",
    "log_loss_multiclass",
    "pr_curve",
    "precision_at_k",
    "recall_at_k",
    "reliability_curve",
    "roc_auc",
    "roc_auc_ovr",
    "roc_curve",
]
