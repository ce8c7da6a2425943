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
    """Both models scored on ``table``; passed only if every check holds (without a champion: ECE only).

    A check whose metric is undefined on ``table`` (ROC AUC of rows of one class) fails with value
    None and the reason: a gate that cannot measure does not pass.
    """
    limits = limits or GateLimits()
    mine = challenger.evaluate(table, n_bootstrap=0)
    theirs = champion.evaluate(table, n_bootstrap=0) if champion is not None else None
    checks = [_check("ece", mine["ece"], limits.max_ece, at_most=True)]
    if theirs is not None:
        checks.append(
            _check("log_loss increase", _delta(mine, theirs, "log_loss"), limits.max_logloss_increase, at_most=True)
        )
        checks.append(_check("roc_auc delta", _delta(mine, theirs, "roc_auc"), limits.min_auc_delta, at_most=False))
    undefined = {**(theirs or {}).get("undefined", {}), **mine.get("undefined", {})}
    for check in checks:
        if check["value"] is None:
            metric = check["check"].split()[0]
            check["reason"] = f"{metric} is undefined on these rows: {undefined.get(metric, 'unknown reason')}"
    keys = ("log_loss", "roc_auc", "ece", "brier")
    return {
        "passed": all(c["ok"] for c in checks),
        "checks": checks,
        "challenger": {k: mine[k] for k in keys},
        "champion": None if theirs is None else {k: theirs[k] for k in keys},
    }


def _delta(mine: dict[str, Any], theirs: dict[str, Any], key: str) -> float | None:
    if mine[key] is None or theirs[key] is None:
        return None
    return float(mine[key] - theirs[key])


def _check(name: str, value: float | None, limit: float, *, at_most: bool) -> dict[str, Any]:
    ok = value is not None and (value <= limit if at_most else value >= limit)
    return {"check": name, "value": value, "limit": limit, "ok": ok}
