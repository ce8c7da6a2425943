"""Retrain triggers: declared rules over monitoring windows, with hysteresis and a cool-down.

A rule is one line::

    drift_psi > 0.2 on score for 2 windows     # the score's PSI (or "on COLUMN" for an input column)
    ece > 0.05                                 # on labelled rows: ece, log_loss, roc_auc, brier
    log_loss +10% vs training for 3 windows    # relative to the model's held-out value at training

It *fires* when its condition has held for the last N windows (default 1), then stays *active* — and
cannot fire again — until the value is back on the good side by the hysteresis margin (10% of the
threshold by default), so a value hovering at the threshold does not fire every window; after firing
it also waits ``cooldown`` windows before it may fire again. The state between windows is a small JSON
file, so a scheduler can run ``oddsline monitor ... --trigger ...`` once per window.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._exceptions import ParameterError
from ..io import atomic_path

__all__ = ["Rule", "evaluate_triggers", "parse_rule"]

_METRICS = ("drift_psi", "ece", "log_loss", "roc_auc", "brier")
_ABSOLUTE = re.compile(
    r"^\s*(?P<metric>\w+)\s*(?P<op>[<>])\s*(?P<value>[0-9.eE+-]+)(?:\s+on\s+(?P<target>\S+))?"
    r"(?:\s+for\s+(?P<windows>\d+)\s+windows?)?\s*$"
)
_RELATIVE = re.compile(
    r"^\s*(?P<metric>\w+)\s*(?P<sign>[+-])(?P<percent>[0-9.]+)%\s+vs\s+training(?:\s+for\s+(?P<windows>\d+)\s+windows?)?\s*$"
)


@dataclass(frozen=True)
class Rule:
    text: str
    metric: str
    above: bool  # True: fires when the value is above the threshold
    threshold: float | None  # None: relative to training
    relative: float | None  # +0.10 for "+10% vs training"
    target: str
    windows: int


def parse_rule(text: str) -> Rule:
    found = _ABSOLUTE.match(text)
    if found:
        metric, windows = found["metric"].lower(), int(found["windows"] or 1)
        target = found["target"] or "score"
        rule = Rule(text.strip(), metric, found["op"] == ">", float(found["value"]), None, target, windows)
    else:
        found = _RELATIVE.match(text)
        if not found:
            raise ParameterError(
                f"trigger {text!r} is not a rule; write e.g. 'drift_psi > 0.2 on score for 2 windows', "
                "'ece > 0.05' or 'log_loss +10% vs training'"
            )
        metric = found["metric"].lower()
        change = float(found["percent"]) / 100 * (1 if found["sign"] == "+" else -1)
        rule = Rule(text.strip(), metric, change > 0, None, change, "score", int(found["windows"] or 1))
    metric = "log_loss" if rule.metric == "logloss" else rule.metric
    if metric not in _METRICS:
        raise ParameterError(f"trigger {text!r}: unknown metric {rule.metric!r}; one of {', '.join(_METRICS)}")
    if rule.windows < 1:
        raise ParameterError(f"trigger {text!r}: 'for N windows' needs N >= 1")
    return Rule(rule.text, metric, rule.above, rule.threshold, rule.relative, rule.target, rule.windows)


def _observed(rule: Rule, observations: dict[str, Any]) -> float | None:
    if rule.metric == "drift_psi":
        if rule.target == "score":
            return _number(observations.get("score_psi"))
        return _number(observations.get("column_psi", {}).get(rule.target))
    return _number(observations.get(rule.metric))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def evaluate_triggers(
    rules: list[Rule],
    observations: dict[str, Any],
    training: dict[str, Any],
    state_file: str | Path,
    *,
    hysteresis: float = 0.10,
    cooldown: int = 3,
) -> list[dict[str, Any]]:
    """One window: update every rule's streak and state in ``state_file``; what fired is marked."""
    path = Path(state_file)
    state: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {"window": 0, "rules": {}}
    state["window"] += 1
    window = state["window"]
    out = []
    for rule in rules:
        memory = state["rules"].setdefault(rule.text, {"streak": 0, "active": False, "fired_window": None})
        threshold = rule.threshold
        if rule.relative is not None:
            reference = training.get(rule.metric)
            threshold = None if reference is None else reference * (1 + rule.relative)
        value = _observed(rule, observations)
        if value is None or threshold is None:
            out.append({"rule": rule.text, "value": value, "threshold": threshold, "fired": False, "note": "no value"})
            continue
        breaching = value > threshold if rule.above else value < threshold
        memory["streak"] = memory["streak"] + 1 if breaching else 0
        margin = abs(threshold) * hysteresis
        recovered = value < threshold - margin if rule.above else value > threshold + margin
        if memory["active"] and recovered:
            memory["active"] = False
        cooled = memory["fired_window"] is None or window - memory["fired_window"] > cooldown
        fired = memory["streak"] >= rule.windows and not memory["active"] and cooled
        if fired:
            memory["active"], memory["fired_window"] = True, window
        out.append(
            {
                "rule": rule.text,
                "value": value,
                "threshold": threshold,
                "breaching": breaching,
                "streak": memory["streak"],
                "active": memory["active"],
                "fired": fired,
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(state, indent=2))
    return out
