"""Detecting (quasi-)complete separation with a linear programme, before an unpenalised fit diverges.

The maximum-likelihood estimate of a logistic regression exists iff no direction beta (intercept
included) has s_i x~_i . beta >= 0 for every row with s_i = 2 y_i - 1, other than beta = 0 (Albert and
Anderson, 1984). Following Konis (2007), maximise sum_i s_i x~_i . beta subject to those n
inequalities and -1 <= beta_j <= 1: the optimum is 0 exactly when the estimate exists; otherwise the
optimal beta points along the separating direction and its non-zero entries name the columns involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

__all__ = ["Separation", "find_separation"]

_TOL = 1e-7


@dataclass(frozen=True)
class Separation:
    kind: str  # "complete" or "quasi-complete"
    direction: NDArray[np.float64]  # over [columns..., intercept]
    columns: tuple[int, ...]  # indices of design columns (the intercept excluded) in the direction
    n_separated_rows: int  # rows with s_i x~_i . beta > 0, fitted at probability 0 or 1 in the limit


def find_separation(
    X: NDArray[np.float64] | sp.csr_matrix, y: NDArray[np.float64], weight: NDArray[np.float64], fit_intercept: bool
) -> Separation | None:
    """The separating direction, or None when the maximum-likelihood estimate exists."""
    keep = weight > 0  # rows of weight zero do not enter the likelihood
    dense = cast("sp.csr_matrix", X).toarray() if sp.issparse(X) else np.asarray(X)
    A = dense[keep]
    if fit_intercept:
        A = np.column_stack([A, np.ones(A.shape[0])])
    s = 2.0 * y[keep] - 1.0
    signed = A * s[:, None]
    scale = np.maximum(np.abs(signed).max(axis=0), 1e-300)
    signed = signed / scale  # unit-scale columns keep the LP well conditioned; signs are unaffected
    p = signed.shape[1]
    intercept = [p - 1] if fit_intercept else []
    found = _separating_direction(signed, list(range(p)))
    if found is None:
        return None
    # Name only the columns that separate: drop every column of the direction whose removal still leaves
    # a separating direction (smallest contribution first). A few LPs over the support, usually 1-3 columns.
    d = dense.shape[1]
    support = [int(j) for j in np.flatnonzero(np.abs(found[:d]) > 1e-9 * np.abs(found).max())]
    # The same array under a non-Optional name: mypy drops the "not None" narrowing of found inside the
    # lambda because found is reassigned below (sorted() calls the key before that happens).
    first_found: NDArray[np.float64] = found
    for j in sorted(support, key=lambda k: abs(first_found[k])):
        trial = [k for k in support if k != j]
        if not trial:
            continue
        smaller = _separating_direction(signed, trial + intercept)
        if smaller is not None:
            support, found = trial, smaller
    margins = signed @ found
    n_separated = int(np.sum(margins > _TOL))
    kind = "complete" if n_separated == signed.shape[0] else "quasi-complete"
    return Separation(kind, found / scale, tuple(support), n_separated)


def _separating_direction(signed: NDArray[np.float64], allowed: list[int]) -> NDArray[np.float64] | None:
    """A direction over the ``allowed`` columns (others 0) with every margin >= 0 and their sum as large
    as possible (Konis' LP), or None when only beta = 0 has that."""
    sub = signed[:, allowed]
    result = linprog(
        c=-sub.sum(axis=0),
        A_ub=-sub,
        b_ub=np.zeros(sub.shape[0]),
        bounds=[(-1.0, 1.0)] * sub.shape[1],
        method="highs",
    )
    if result.status != 0 or -result.fun <= _TOL * sub.shape[0]:
        return None
    direction = np.zeros(signed.shape[1])
    direction[allowed] = result.x
    return direction
