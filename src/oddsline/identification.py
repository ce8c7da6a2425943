"""Identified unpenalised fits: an unpenalised model estimates only what the data determine.

A one-hot block with an intercept is exactly collinear (its columns sum to the intercept's column), and
so are duplicated numbers or a column that is zero on every training row. With a penalty the optimum is
still unique; without one (``C=inf``, the statsmodels/R-equivalent fit) it is not, and an information
matrix that is singular gives standard errors of 1e18, NaN or below zero.

So an unpenalised fit is made on the identified columns only, as R's ``glm`` does: each categorical
column is coded against a reference level (treatment coding; R's contr.treatment takes the first level
in sorted order, and so do we unless the spec names one with ``reference:``), and any other column that
is an exact linear combination of earlier ones is aliased (R's NA). Those columns get coefficient 0,
which leaves every scoring path (tables, dict rows, the compiled scorer, ONNX) unchanged: a reference
level contributes nothing to the log-odds, exactly as in treatment coding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ._exceptions import SchemaError, SeparationError
from .core.inference import aliased_in_gram
from .estimator import LogisticRegression
from .features import FeatureSpec, FittedFeatures
from .features.categorical import MISSING_LEVEL, FittedCategorical

__all__ = ["IdentifiedFit", "aliased_design_columns", "fit_identified", "reference_levels"]


def reference_levels(spec: FeatureSpec, features: FittedFeatures) -> dict[int, tuple[str, str]]:
    """Design index of each categorical column's reference level -> (column, level).

    The level is the spec's ``reference:`` when given (it must be a training level), else the first
    level in sorted order that is not ``<missing>``.
    """
    declared = {c.name: c.options.get("reference") for c in spec.columns if c.kind == "categorical"}
    out: dict[int, tuple[str, str]] = {}
    for column, block in features.blocks():
        if not isinstance(column, FittedCategorical) or not column.levels:
            continue
        wanted = declared.get(column.name)
        if wanted is not None:
            level = str(wanted)
            if level not in column.levels:
                raise SchemaError(
                    f"column {column.name!r}: reference level {level!r} is not a training level; "
                    f"its levels are {list(column.levels)[:20]}"
                )
        else:
            ordinary = [level for level in column.levels if level != MISSING_LEVEL]
            level = (ordinary or list(column.levels))[0]
        out[block.start + column.levels.index(level)] = (column.name, level)
    return out


@dataclass(frozen=True)
class IdentifiedFit:
    """The estimator with coefficients over every design column (0 where aliased) and what was aliased."""

    estimator: LogisticRegression
    aliased: NDArray[np.intp]  # design indices with no estimate (reference levels among them)


def fit_identified(
    X: NDArray[np.float64],
    y: NDArray[np.float64],
    C: float,
    class_weight: str | None,
    prefer: tuple[int, ...] = (),
    l1_ratio: float = 0.0,
) -> IdentifiedFit:
    """Fit ``LogisticRegression(C, l1_ratio)``; when unpenalised, on the identified columns only (see
    module doc).

    ``prefer``: design columns to alias first when a dependency leaves a choice (reference levels).
    """
    if not math.isinf(C):
        estimator = LogisticRegression(C=C, l1_ratio=l1_ratio, class_weight=class_weight)
        return IdentifiedFit(estimator.fit(X, y), np.array([], np.intp))
    d = X.shape[1]
    aliased = aliased_design_columns(X, prefer)
    keep = np.setdiff1d(np.arange(d), aliased)
    estimator = LogisticRegression(C=C, class_weight=class_weight)
    try:
        estimator.fit(np.ascontiguousarray(X[:, keep]), y)
    except SeparationError as exc:  # its columns index the reduced design: name the original ones
        columns = tuple(int(keep[j]) for j in exc.columns)
        raise SeparationError(str(exc), columns=columns) from None
    coef = np.zeros((1, d))
    coef[0, keep] = estimator.coef_[0]
    estimator.coef_ = coef
    estimator.n_features_in_ = d
    return IdentifiedFit(estimator, aliased)


def aliased_design_columns(X: NDArray[np.float64], prefer: tuple[int, ...]) -> NDArray[np.intp]:
    """Design columns that are exact linear combinations of the intercept and earlier columns."""
    n, d = X.shape
    augmented = np.empty((d + 1, d + 1))
    augmented[:d, :d] = X.T @ X
    augmented[:d, d] = augmented[d, :d] = X.sum(axis=0)
    augmented[d, d] = n
    return aliased_in_gram(augmented / max(n, 1), d, prefer)
