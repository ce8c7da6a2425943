"""Validation of numeric estimator inputs (X, y, sample_weight, class_weight), done once at fit entry."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, TypeAlias, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from ._exceptions import DataError, InputTypeError, ParameterError
from ._sklearn_interop import data_conversion_warning

__all__ = ["check_X", "check_weight", "class_weights", "encode_labels"]

Matrix: TypeAlias = NDArray[np.float64] | sp.csr_matrix


def check_X(X: ArrayLike) -> Matrix:
    """Dense float64 C-ordered or CSR float64; finite; 2-d with at least one row and column."""
    if sp.issparse(X):
        csr = sp.csr_matrix(X, dtype=np.float64)
        csr.sum_duplicates()
        values = csr.data
        result: Matrix = csr
    else:
        if hasattr(X, "dtype") and np.iscomplexobj(X):
            raise DataError("Complex data not supported: X has complex values; logistic regression needs real numbers")
        try:
            arr = np.ascontiguousarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(
                f"X must be numeric (argument must be a string or a real number): {exc}; "
                "encode text columns first (oddsline.FeatureSpec does)"
            ) from None
        if arr.ndim != 2:
            raise DataError(
                f"X must be a 2-d array (rows x columns), got shape {arr.shape}; "
                "Reshape your data with reshape(-1, 1) for a single feature or reshape(1, -1) for a single row"
            )
        values = arr
        result = arr
    if result.shape[0] == 0 or result.shape[1] == 0:
        # Worded as scikit-learn words it, so code that matches its messages keeps working.
        raise DataError(
            f"X has {result.shape[0]} sample(s) and {result.shape[1]} feature(s) (shape={result.shape}) while a "
            "minimum of 1 is required: give at least one row and one column"
        )
    if not np.all(np.isfinite(values)):
        raise DataError("X contains NaN or infinity; impute missing values first (oddsline.FeatureSpec does)")
    return result


def encode_labels(y: ArrayLike, n_rows: int) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """(sorted classes, class index per row); continuous targets and single classes are refused."""
    if y is None:
        raise DataError(
            "LogisticRegression requires y to be passed, but the target y is None; give one label per row of X"
        )
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; pass shape (n_samples,), "
            "for example with y.ravel()",
            data_conversion_warning(),
            stacklevel=3,
        )
        y_arr = y_arr.ravel()
    if y_arr.ndim != 1 or y_arr.shape[0] != n_rows:
        raise DataError(f"y must be 1-d with one label per row of X ({n_rows}), got shape {np.shape(y)}")
    if y_arr.dtype.kind == "f":
        if not np.all(np.isfinite(y_arr)):
            raise DataError("y contains NaN or infinity; every row needs a label")
        if np.any(y_arr != np.round(y_arr)):
            raise DataError(
                "Unknown label type: y holds continuous values; logistic regression needs class labels "
                "(for a probability target, threshold it or use sample weights)"
            )
    elif y_arr.dtype.kind == "O" and any(v is None for v in y_arr):
        raise DataError("y contains None; every row needs a label")
    if y_arr.dtype.kind in "biufUS":
        # The classes by hashing, then each row's by binary search among them: np.unique's inverse
        # sorts all n labels (50 ms of a 0.3 s fit on 327k rows).
        classes = np.unique(y_arr)
        codes = np.searchsorted(classes, y_arr)
    else:
        classes, codes = np.unique(y_arr, return_inverse=True)
    if classes.shape[0] < 2:
        raise DataError(f"y has only one class ({classes[0]!r}); a classifier needs at least two classes")
    return classes, codes.astype(np.int64)


def check_weight(sample_weight: ArrayLike | None, n_rows: int) -> NDArray[np.float64]:
    if sample_weight is None:
        return np.ones(n_rows)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n_rows, float(w))
    if w.shape != (n_rows,):
        raise DataError(f"sample_weight must be 1-d with one value per row ({n_rows}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError("sample_weight must be finite and non-negative")
    if not w.sum() > 0:
        raise DataError("sample_weight sums to zero; at least one row needs a positive weight")
    return w


def class_weights(class_weight: Any, classes: NDArray[Any], codes: NDArray[np.int64]) -> NDArray[np.float64]:
    """Weight per class: None -> 1, "balanced" -> n / (K * count_k), dict label -> weight (others 1)."""
    K: int = classes.shape[0]
    if class_weight is None:
        return np.ones(K)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ParameterError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}")
        counts = np.bincount(codes, minlength=K).astype(np.float64)
        return cast("NDArray[np.float64]", codes.shape[0] / (K * counts))  # shape[0] is typed Any
    if isinstance(class_weight, Mapping):
        known = {c.item() if hasattr(c, "item") else c for c in classes}
        unknown = [label for label in class_weight if label not in known]
        if unknown:
            raise ParameterError(
                f"class_weight names label(s) {unknown} that are not in y (classes: {sorted(known, key=str)})"
            )
        out = np.ones(K)
        for k, label in enumerate(classes):
            value = class_weight.get(label.item() if hasattr(label, "item") else label, 1.0)
            if not (isinstance(value, (int, float)) and value >= 0):
                raise ParameterError(f"class_weight[{label!r}] must be a non-negative number, got {value!r}")
            out[k] = float(value)
        return out
    raise ParameterError(f"class_weight must be None, 'balanced' or a dict, got {type(class_weight).__name__}")
