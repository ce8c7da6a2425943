"""Detecting (quasi-)complete separation with a linear programme, before an unpenalised fit diverges.

The maximum-likelihood estimate of a logistic regression exists iff no direction beta (intercept
included) has s_i x~_i . beta >= 0 for every row with s_i = 2 y_i - 1, other than beta = 0 (Albert and
Anderson, 1984). Following Konis (2007), maximise sum_i s_i x~_i . beta subject to those n
inequalities and -1 <= beta_j <= 1: the optimum is 0 exactly when the estimate exists; otherwise the
optimal beta points along the separating direction and its non-zero entries name the columns involved.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    dense = X.toarray() if sp.issparse(X) else np.asarray(X)
    A = dense[keep]
    if fit_intercept:
        A = np.column_stack([A, np.ones(A.shape[0])])
    s = 2.0 * y[keep] - 1.0
    signed = A * s[:, None]
    scale = np.maximum(np.abs(signed).max(axis=0), 1e-300)
    signed = signed / scale  # unit-scale columns keep the LP well conditioned; signs are unaffected
    result = linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(signed.shape[0]),
        bounds=[(-1.0, 1.0)] * signed.shape[1],
        method="highs",
    )
    if result.status != 0 or -result.fun <= _TOL * signed.shape[0]:
        return None
    # The first LP proves separation; a second names the fewest columns: minimise ||beta||_1 over the
    # separating directions whose margins add up to at least the first one's (a sparse direction).
    p = signed.shape[1]
    total = -float(result.fun)
    sparse_lp = linprog(
        c=np.ones(2 * p),
        A_ub=np.vstack([np.hstack([-signed, signed]), np.r_[-signed.sum(axis=0), signed.sum(axis=0)][None, :]]),
        b_ub=np.r_[np.zeros(signed.shape[0]), -total],
        bounds=[(0.0, None)] * (2 * p),
        method="highs",
    )
    unit_direction = sparse_lp.x[:p] - sparse_lp.x[p:] if sparse_lp.status == 0 else result.x
    margins = signed @ unit_direction
    direction = unit_direction / scale
    d = dense.shape[1]
    columns = tuple(int(j) for j in np.flatnonzero(np.abs(unit_direction[:d]) > 1e-9 * np.abs(unit_direction).max()))
    n_separated = int(np.sum(margins > _TOL))
    kind = "complete" if n_separated == signed.shape[0] else "quasi-complete"
    return Separation(kind, direction, columns, n_separated)
