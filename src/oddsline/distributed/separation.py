"""Separation by a single 0/1 design column, read off the first pass of an unpenalised streamed fit.

In memory a linear programme over every row decides whether the unpenalised estimate exists
(``core/separation.py``); a stream cannot hold the rows for it. The commonest case it catches is one
0/1 column (a level, a boolean, a missing-value indicator) whose rows, or whose other rows, all hold one
class: the coefficient then runs to infinity while Newton reports convergence at a tiny gradient. That
needs only each column's row weight and positive weight, which the first pass gives exactly: at the
intercept-only start every row has the same p0, so for a 0/1 column j the Hessian's diagonal is
p0 (1 - p0) W_j and the gradient p0 W_j - P_j. Separation by combinations of columns is decided next,
by the linear programme on the row sample and passes that check its direction
(``separating_direction.py``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .._exceptions import SeparationError
from ..core.link import expit
from ..features import FittedFeatures
from ..target import BinaryTarget
from .kernel import Sums

__all__ = ["binary_columns", "raise_if_separated"]

_RELATIVE = 1e-9  # of the total weight: sums below it are taken as zero (rounding of the merged sums)


def binary_columns(features: FittedFeatures) -> list[int]:
    """Design columns that hold only 0 and 1: one-hot levels, booleans, missing-value indicators."""
    out: list[int] = []
    for column, block in features.blocks():
        if column.kind in ("categorical", "boolean"):
            out.extend(range(block.start, block.stop))
        elif column.kind == "numeric" and getattr(column, "indicator", False) and block.stop > block.start:
            out.append(block.stop - 1)
    return out


def raise_if_separated(
    first: Sums, theta0: NDArray[np.float64], features: FittedFeatures, target: BinaryTarget
) -> None:
    """SeparationError naming the first 0/1 column that separates the classes (``first`` is the pass at
    ``theta0``, zero coefficients and the intercept at the log-odds)."""
    if first.hessian is None:
        return
    p0 = float(expit(np.array([theta0[-1]]))[0])
    total, positives = first.weight, first.weighted_positives
    tol = _RELATIVE * total
    for j in binary_columns(features):
        weight_j = float(first.hessian[j, j]) / (p0 * (1.0 - p0))
        positives_j = p0 * weight_j - float(first.gradient[j])
        for side, weight, positive in (
            ("its rows", weight_j, positives_j),
            ("the other rows", total - weight_j, positives - positives_j),
        ):
            if weight > tol and (positive <= tol or positive >= weight - tol):
                name = features.design_names[j]
                label = target.positive if positive > tol else target.negative
                raise SeparationError(
                    f"the classes of {target.name!r} are separated by {name!r}: {side} are all {label!r} (a weight "
                    f"of {weight:.6g}), so an unpenalised fit has no finite estimate. Use a finite C (--C 1), or "
                    "drop or merge that column/level",
                    columns=(j,),
                )
