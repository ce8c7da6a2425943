"""Bias-corrected and accelerated (BCa) bootstrap intervals (Efron 1987; Efron & Tibshirani 1993, ch. 14).

The percentile interval assumes the bootstrap distribution is centred on the estimate. For a biased
statistic it is not: the expected calibration error is biased upward (|noise| adds to every bin), the
resamples add the bias again, and a percentile interval can lie entirely above its own estimate. BCa
reads the bias off the resamples, z0 = Phi^-1(share of resamples below the estimate), and the change
of the standard error with the parameter off the jackknife, a = sum U^3 / (6 (sum U^2)^1.5), and takes
the quantiles Phi(z0 + (z0 + z) / (1 - a (z0 + z))) for z = Phi^-1(alpha/2), Phi^-1(1 - alpha/2).

Ties count half in the share (as ``scipy.stats.bootstrap``), so a statistic the resamples cannot move
(AUC of constant scores) gets z0 = 0 and the degenerate interval [estimate, estimate].

The corrected endpoints straddle the estimate exactly when |z0| is below z(1 - alpha/2) (for small
a). Beyond that, the correction is larger than the interval's half-width: BCa's premise, a bias of
order 1/sqrt(n) on a normalising scale, has failed, which happens for the ECE of a nearly calibrated
model. The interval is then extended to the estimate rather than reported beside it: that can only
raise its coverage, and an interval that excludes its own estimate reads as a bug.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri

__all__ = ["JACKKNIFE_GROUPS", "acceleration", "bca_interval"]

# The acceleration comes from a delete-group jackknife: the rows are dealt into this many seeded groups
# (one row each in smaller samples: the ordinary jackknife) and the statistic is recomputed without each,
# a tenth of the work of 1,000 resamples where the delete-one jackknife would take one pass per row.
# a is skewness / (6 sqrt(n)) either way; from 100 groups its sampling error is about
# sqrt(6 / 100) / (6 sqrt(100)) = 0.004, which moves an endpoint by about 0.02 standard errors, and a
# itself matters only in small samples, where the groups are single rows.
JACKKNIFE_GROUPS = 100


def acceleration(jackknife: NDArray[np.float64]) -> float:
    """Efron's a from jackknife values of the statistic (delete-one or delete-group: for G groups of
    n / G rows the ratio is the same skewness / sqrt(n), so groups estimate the same a). 0 when the
    values do not vary or are not all finite (the interval is then bias-corrected only)."""
    if not np.all(np.isfinite(jackknife)):
        return 0.0
    u = jackknife.mean() - jackknife
    spread = float(u @ u)
    if spread <= 0.0:
        return 0.0
    return float((u @ (u * u)) / (6.0 * spread**1.5))


def bca_interval(draws: NDArray[np.float64], estimate: float, a: float, level: float) -> tuple[float, float] | None:
    """The BCa interval from the bootstrap ``draws`` of a statistic whose estimate is ``estimate``;
    non-finite draws (a resample where the statistic is undefined) are left out; None if fewer than
    ten remain."""
    values = draws[np.isfinite(draws)]
    if values.shape[0] < 10:
        return None
    below = np.count_nonzero(values < estimate) + 0.5 * np.count_nonzero(values == estimate)
    # A share of 0 or 1 would give z0 = -inf or inf; half a resample is the resolution of the share.
    share = min(max(below / values.shape[0], 0.5 / values.shape[0]), 1 - 0.5 / values.shape[0])
    z0 = float(ndtri(share))
    alpha = (1 - level) / 2
    levels = []
    for z in (float(ndtri(alpha)), float(ndtri(1 - alpha))):
        denominator = 1 - a * (z0 + z)
        # a (z0 + z) >= 1 only for |a| far beyond any jackknife estimate from a real sample; the
        # formula's limit as the denominator falls to 0+ is the extreme of the distribution.
        adjusted = z0 + (z0 + z) / denominator if denominator > 0 else math.copysign(math.inf, z)
        levels.append(float(ndtr(adjusted)))
    low, high = np.quantile(values, levels)
    return min(float(low), estimate), max(float(high), estimate)
