"""Choosing the decision threshold for the business, not at 0.5.

Rules (the strings ``oddsline train --threshold`` takes):
    cost:fp=1,fn=5     minimise fp_cost * false positives + fn_cost * false negatives
    f1 | fbeta:2       maximise F1 / F-beta
    precision>=0.9     the lowest threshold whose precision reaches 0.9 (most recall at that precision)
    recall>=0.8        the highest threshold whose recall reaches 0.8 (fewest positives flagged)
    top=5%             flag the top 5% of scores
The decision is p >= threshold. Candidates are the distinct scores, so the choice is exact on the
data given (which must be data the model did not train on: a held-out split or cross-fitted folds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._exceptions import ParameterError
from .metrics._checks import check

__all__ = ["ThresholdChoice", "choose_threshold"]

_RULE_HELP = "use cost:fp=1,fn=5 | f1 | fbeta:2 | precision>=0.9 | recall>=0.8 | top=5%"


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    rule: str
    value: float  # the criterion at the chosen threshold (cost, F, precision, recall or share flagged)


def _sweep(y: NDArray[np.float64], p: NDArray[np.float64], w: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """(threshold, tp, fp, fn) for every distinct score as threshold, from the highest down."""
    order = np.argsort(-p, kind="mergesort")
    p_sorted = p[order]
    last = np.r_[np.flatnonzero(np.diff(p_sorted)), p_sorted.shape[0] - 1]
    tp = np.cumsum((w * y)[order])[last]
    fp = np.cumsum((w * (1 - y))[order])[last]
    fn = float(w @ y) - tp
    return p_sorted[last], tp, fp, fn


def choose_threshold(y: ArrayLike, p: ArrayLike, rule: str, sample_weight: ArrayLike | None = None) -> ThresholdChoice:
    y_arr, p_arr, w = check(y, p, sample_weight)
    thresholds, tp, fp, fn = _sweep(y_arr, p_arr, w)
    text = rule.strip().lower().replace(" ", "")
    if m := re.fullmatch(r"cost:fp=([0-9.e+-]+),fn=([0-9.e+-]+)", text):
        c_fp, c_fn = float(m.group(1)), float(m.group(2))
        if c_fp < 0 or c_fn < 0:
            raise ParameterError(f"costs must be non-negative in {rule!r}")
        # Above the highest score nothing is flagged: every positive is a false negative.
        costs = np.r_[c_fn * float(w @ y_arr), c_fp * fp + c_fn * fn]
        best = int(np.argmin(costs))
        threshold = float(np.nextafter(thresholds[0], np.inf)) if best == 0 else float(thresholds[best - 1])
        return ThresholdChoice(min(threshold, 1.0), rule, float(costs[best]))
    if text == "f1" or (m := re.fullmatch(r"fbeta:([0-9.e+-]+)", text)):
        # Not "f1": the fbeta pattern matched, so m is its match (mypy cannot follow the walrus in the or).
        beta = 1.0 if text == "f1" else float(cast("re.Match[str]", m).group(1))
        b2 = beta * beta
        f = (1 + b2) * tp / np.maximum((1 + b2) * tp + b2 * fn + fp, 1e-300)
        best = int(np.argmax(f))
        return ThresholdChoice(float(thresholds[best]), rule, float(f[best]))
    if m := re.fullmatch(r"(precision|recall)>=([0-9.e+-]+)", text):
        target = float(m.group(2))
        if not 0 < target <= 1:
            raise ParameterError(f"the target in {rule!r} must be in (0, 1]")
        if m.group(1) == "precision":
            precision = tp / (tp + fp)
            ok = np.flatnonzero(precision >= target)
            if ok.size == 0:
                raise ParameterError(
                    f"no threshold reaches precision {target} on these rows (best {precision.max():.3f})"
                )
            j = int(ok[-1])  # lowest qualifying threshold: the most recall at that precision
            return ThresholdChoice(float(thresholds[j]), rule, float(precision[j]))
        recall = tp / max(float(w @ y_arr), 1e-300)
        j = int(np.flatnonzero(recall >= target)[0])  # highest qualifying threshold
        return ThresholdChoice(float(thresholds[j]), rule, float(recall[j]))
    if m := re.fullmatch(r"top=([0-9.e+-]+)%", text):
        share = float(m.group(1)) / 100
        if not 0 < share <= 1:
            raise ParameterError(f"the share in {rule!r} must be in (0%, 100%]")
        k = max(int(np.ceil(share * p_arr.shape[0])), 1)
        threshold = float(np.sort(p_arr)[::-1][k - 1])
        return ThresholdChoice(threshold, rule, float(np.mean(p_arr >= threshold)))
    raise ParameterError(f"unknown threshold rule {rule!r}; {_RULE_HELP}")
