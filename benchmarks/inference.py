"""Inference benchmark (issue 4): what a coefficient table costs on top of the fit, beside statsmodels.

    .venv/bin/python benchmarks/inference.py [--repeats 3]

F1 flights design with reference (drop-first) coding, so the unpenalised model is identifiable and
statsmodels can fit it. Reports the median fit time, the median time of ``oddsline.inference`` after it,
statsmodels' Logit fit (which computes its covariance as part of the fit), and the largest differences
in coefficients and standard errors between the two.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings

import numpy as np

import oddsline
from engine import flights_design
from harness import machine, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import statsmodels.api as sm

    X, y = flights_design(drop_first=True)
    fit_s, inf_s, sm_s = [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model = oddsline.LogisticRegression(C=math.inf).fit(X, y)
        fit_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ours = oddsline.inference(model, X, y)
        inf_s.append(time.perf_counter() - t0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-10, maxiter=100)
            _ = ref.bse
            sm_s.append(time.perf_counter() - t0)
    penalised = oddsline.LogisticRegression(C=1.0).fit(X, y)
    t0 = time.perf_counter()
    oddsline.inference(penalised, X, y)
    penalised_s = time.perf_counter() - t0
    rows = [
        f"Machine: {machine()}",
        f"Versions: {versions('oddsline', 'statsmodels')}",
        "",
        f"#### Inference on F1 flights {X.shape[0]:,} x {X.shape[1]} (reference coding), median of {args.repeats}",
        "",
        "| step | median s |",
        "|---|---|",
        f"| oddsline fit (C = inf) | {statistics.median(fit_s):.3f} |",
        f"| oddsline inference (nonrobust: covariance, aliasing check, condition number, likelihoods) | {statistics.median(inf_s):.3f} |",
        f"| oddsline fit + inference | {statistics.median(fit_s) + statistics.median(inf_s):.3f} |",
        f"| statsmodels Logit fit + bse | {statistics.median(sm_s):.3f} |",
        f"| oddsline inference of an L2 fit (C = 1, penalised sandwich), once | {penalised_s:.3f} |",
        "",
        _agreement(ours, ref, X),
    ]
    print("\n".join(rows))


def _agreement(ours, ref, X: np.ndarray) -> str:
    """Agreement with statsmodels, separately for well-supported columns and for the rest.

    Levels carried by a handful of flights (a destination served a few times a year) are nearly
    separated: their likelihood is flat, both programs stop somewhere along it, and neither estimate
    nor standard error means much. The comparison that matters is on columns with support.
    """
    support = np.r_[X.shape[0], np.count_nonzero(X, axis=0)]  # intercept first, as in param_names
    rel_param = np.abs(ours.params - ref.params) / np.maximum(np.abs(ref.params), 1e-12)
    rel_se = np.abs(ours.bse - ref.bse) / ref.bse
    well = support >= 500
    worst = int(np.argmax(rel_se))
    return (
        f"Agreement with statsmodels on the {int(well.sum())} coefficients whose column is non-zero in >= 500 rows: "
        f"max relative difference of coefficients {rel_param[well].max():.1e}, of standard errors {rel_se[well].max():.1e}. "
        f"Over all {len(support)}: {rel_param.max():.1e} and {rel_se.max():.1e}; the worst is "
        f"{ours.param_names[worst]!r}, non-zero in {support[worst]} rows (SE {ours.bse[worst]:.3g} here, "
        f"{ref.bse[worst]:.3g} in statsmodels)."
    )


if __name__ == "__main__":
    main()
