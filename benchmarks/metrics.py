"""Metrics benchmark (issue 6): every metric of 327k flights predictions with 1,000 bootstrap resamples.

    .venv/bin/python benchmarks/metrics.py [--repeats 3]

Predictions: an L2 (C = 1) fit on the F1 flights design. oddsline ``metrics.evaluate`` (ranking, proper
scores, calibration, threshold metrics, Brier decomposition, calibration slope, and 95% bootstrap
intervals for eight of them) beside scikit-learn computing the same point metrics once, without any
bootstrap. Median of several runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import oddsline
from engine import flights_design
from harness import machine, versions
from oddsline.metrics import BOOTSTRAP_METRICS


def sklearn_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as sk
    from sklearn.calibration import calibration_curve

    decided = p >= 0.5
    calibration_curve(y, p, n_bins=10)
    return {
        "roc_auc": sk.roc_auc_score(y, p),
        "average_precision": sk.average_precision_score(y, p),
        "log_loss": sk.log_loss(y, p),
        "brier": sk.brier_score_loss(y, p),
        "accuracy": sk.accuracy_score(y, decided),
        "precision": sk.precision_score(y, decided),
        "recall": sk.recall_score(y, decided),
        "f1": sk.f1_score(y, decided),
        "confusion": sk.confusion_matrix(y, decided).sum(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X, y = flights_design()
    p = oddsline.LogisticRegression(C=1.0).fit(X, y).predict_proba(X)[:, 1]
    ours_s, theirs_s = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = oddsline.metrics.evaluate(y, p, n_bootstrap=1000)
        ours_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        reference = sklearn_metrics(y, p)
        theirs_s.append(time.perf_counter() - t0)
    worst = max(abs(result[k] - reference[k]) for k in ("roc_auc", "average_precision", "log_loss", "brier", "f1"))
    print(
        "\n".join(
            [
                f"Machine: {machine()}",
                "",
                f"Versions: {versions('oddsline', 'sklearn')}",
                "",
                f"#### Metrics of {len(y):,} flights predictions, median of {args.repeats}",
                "",
                "| contender | median s |",
                "|---|---|",
                f"| oddsline metrics.evaluate: all metrics + 1,000 bootstrap resamples ({len(BOOTSTRAP_METRICS)} CIs) | {statistics.median(ours_s):.2f} |",
                f"| sklearn: the point metrics only, no bootstrap | {statistics.median(theirs_s):.2f} |",
                "",
                f"Goal <= 3 s for oddsline. Largest difference from scikit-learn's point values: {worst:.1e}. "
                f"AUC {result['roc_auc']:.4f}, 95% CI {result['intervals']['roc_auc'][0]:.4f} - {result['intervals']['roc_auc'][1]:.4f}.",
                "",
            ]
        )
    )


if __name__ == "__main__":
    main()
