"""The validation gate: does a challenger beat (or match) the champion on held-out labelled rows?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

__all__ = ["GateLimits", "run_gate"]


@dataclass(frozen=True)
class GateLimits:
    max_logloss_increase: float = 0.0  # challenger log loss - champion log loss must not exceed this
    min_auc_delta: float = -0.005  # challenger AUC - champion AUC must reach this
    max_ece: float = 0.05  # the challenger's expected calibration error must not exceed this


def run_gate(
    challenger: Any, champion: Any | None, table: pa.Table, limits: GateLimits | None = None
) -> dict[str, Any]:
    """Both models scored on ``table``; passed only if every check holds (without a champion: ECE only)."""
    limits = limits or GateLimits()
    mine = challenger.evaluate(table, n_bootstrap=0)
    theirs = champion.evaluate(table, n_bootstrap=0) if champion is not None else None
    checks = [("ece", mine["ece"], limits.max_ece, mine["ece"] <= limits.max_ece)]
    if theirs is not None:
        d_loss = mine["log_loss"] - theirs["log_loss"]
        d_auc = mine["roc_auc"] - theirs["roc_auc"]
        checks.append(("log_loss increase", d_loss, limits.max_logloss_increase, d_loss <= limits.max_logloss_increase))
        checks.append(("roc_auc delta", d_auc, limits.min_auc_delta, d_auc >= limits.min_auc_delta))
    keys = ("log_loss", "roc_auc", "ece", "brier")
    return {
        "passed": all(ok for *_, ok in checks),
        "checks": [{"check": c, "value": v, "limit": lim, "ok": ok} for c, v, lim, ok in checks],
        "challenger": {k: mine[k] for k in keys},
        "champion": None if theirs is None else {k: theirs[k] for k in keys},
    }
