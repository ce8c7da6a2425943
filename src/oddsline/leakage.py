"""Target leakage: columns that record the outcome instead of predicting it.

A column that alone ranks the classes almost perfectly (fair's ``affairs`` behind "had an affair",
a loan's ``paid_total`` behind its status, a flight's ``dep_delay`` behind "arrived late") makes a model
that looks excellent on held-out rows and is useless in production, where the column is not known yet.

Each source column's share of the fitted log-odds (its design block times its coefficients) is scored
by ROC AUC against the training labels: a column whose share alone reaches ``LEAK_AUC`` (either
direction) is named. The share is what the model actually uses, it costs one product per block (no
refit), and unlike a per-level target rate it cannot overfit a column with many levels. A held-out AUC
at or above ``LEAK_AUC`` is flagged too, naming the columns that carry the most of it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

from .features import FittedFeatures
from .metrics import roc_auc

__all__ = ["LEAK_AUC", "leakage_warnings", "single_column_auc"]

LEAK_AUC = 0.99
AUC_ROWS = 20_000  # rows the per-column AUC is read from (a sort each); more add nothing at this AUC


def single_column_auc(
    features: FittedFeatures, X: NDArray[np.float64], y: NDArray[np.float64], coef: NDArray[np.float64]
) -> dict[str, float]:
    """max(AUC, 1 - AUC) of each source column's share of the log-odds on the training rows."""
    out: dict[str, float] = {}
    if y.shape[0] > AUC_ROWS:  # an even stride of rows: AUC near 0.99 is known to +-0.002 from 20,000
        rows = np.linspace(0, y.shape[0] - 1, AUC_ROWS).astype(np.intp)
        X, y = X[rows], y[rows]
    if y.min() == y.max():
        return out
    for column, block in features.blocks():
        share = X[:, block] @ coef[block]
        if np.ptp(share) == 0:
            continue
        auc = roc_auc(y, rankdata(share) / share.shape[0])  # AUC is rank-invariant; it takes [0, 1] scores
        name = "*".join(column.sources)
        out[name] = max(out.get(name, 0.0), auc, 1.0 - auc)
    return out


def leakage_warnings(column_auc: dict[str, float], held_out_auc: float | None) -> list[str]:
    """Messages naming the suspect columns and how to silence the check (empty when nothing is suspect)."""
    suspects = sorted((name for name, auc in column_auc.items() if auc >= LEAK_AUC), key=lambda n: -column_auc[n])
    messages = []
    fix = "if it is known before the outcome, keep it and pass --allow-leaky (allow_leaky=True) or a spec"
    for name in suspects:
        messages.append(
            f"possible target leakage: column {name!r} alone separates the classes (AUC {column_auc[name]:.4f}); "
            f"if it is recorded after the outcome, leave it out (--ignore {name}); {fix}"
        )
    if held_out_auc is not None and held_out_auc >= LEAK_AUC and not suspects:
        top = sorted(column_auc, key=lambda n: -column_auc[n])[:3]
        named = ", ".join(f"{n} (AUC {column_auc[n]:.3f})" for n in top)
        messages.append(
            f"possible target leakage: held-out ROC AUC {held_out_auc:.4f} is too good to be true; the columns "
            f"that carry most of it: {named}; leave out any recorded after the outcome (--ignore COL); {fix}"
        )
    return messages
