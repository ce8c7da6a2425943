"""Coefficients in the units of the raw columns, as R's glm and statsmodels report them.

The model is fitted on standardised numbers, z = (x - center) / scale (after log1p when the spec asks
for it), so its coefficient beta_z is the change in log-odds per standard deviation. Per raw unit it
is beta_z / scale, and the intercept of the raw parametrisation is b - sum_j beta_j center_j / scale_j:
the same model, reparametrised by a linear map A (theta_raw = A theta), so the covariance is
A cov A^T and the Wald statistics follow. Binned columns, clipping outside its range and every
non-numeric column are left as they are (A is the identity there).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._exceptions import InferenceError
from .features import FittedFeatures, FittedNumeric
from .inference_result import InferenceResult, wald_columns

__all__ = ["in_original_units"]


def in_original_units(result: InferenceResult, features: FittedFeatures) -> InferenceResult:
    """``result`` (intercept first, then the design columns) per raw unit of each numeric column."""
    if result.param_names[0] != "intercept" or len(result.param_names) != features.n_design + 1:
        raise InferenceError("original units need a binary model's table over [intercept, design columns]")
    if result.ci not in ("wald", "none"):  # "none": an L1 fit's table, coefficients alone
        raise InferenceError(f"original units are available for Wald intervals, not {result.ci!r} ones")
    k = len(result.param_names)
    A = np.eye(k)
    units = []
    for column, block in features.blocks():
        if isinstance(column, FittedNumeric) and not column.edges and (column.center != 0 or column.scale != 1):
            j = 1 + block.start
            A[j, j] = 1.0 / column.scale
            A[0, j] = -column.center / column.scale
            units.append(f"{column.name} per unit of {'log1p(' + column.name + ')' if column.log1p else 'it'}")
    params = np.nan_to_num(result.params)  # aliased parameters are 0 in the model; NaN again below
    cov = np.nan_to_num(result.cov)
    raw = A @ params
    raw_cov = A @ cov @ A.T
    missing = np.isnan(result.params)
    raw[missing] = np.nan
    return replace(
        result,
        params=raw,
        **wald_columns(raw, raw_cov, result.level),
        cov=raw_cov,
        label=f"{result.label}; original units",
        extra={**result.extra, "original_units": units},
    )
