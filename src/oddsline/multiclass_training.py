"""``oddsline.train_multiclass``: from a labelled table of two or more classes to a
:class:`MulticlassModel` (softmax logistic regression), optionally temperature-calibrated.

With ``C=inf`` the fit is identified as ``train``'s is (``identification.py``): categorical columns are
coded against a reference level and aliased columns get no estimate (0 in every class), so the
probabilities and the log-likelihood are statsmodels MNLogit's on the same design, and the model keeps
the information matrix that ``MulticlassModel.inference`` needs without the training rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from ._exceptions import ParameterError, SchemaError, SeparationError, TargetError
from ._version import __version__
from .calibration import fit_temperature
from .core.path import stratified_folds
from .core.separation import find_separation
from .estimator import LogisticRegression
from .features import FeatureSpec
from .features.spec import ColumnSpec
from .identification import aliased_design_columns, reference_levels
from .inference import multinomial_information
from .io import TableLike, to_arrow
from .models.multiclass import MulticlassModel
from .monitor.drift import score_of
from .monitor.reference import capture_reference
from .overlap import training_sketch
from .splits import stratified_split
from .target import resolve_classes
from .training import _handle_missing_target, _json_number, _jsonable, fingerprint

__all__ = ["train_multiclass"]

# The information matrix of an unpenalised fit is kept up to this many parameters (K x (d + 1)):
# 2,000 parameters are 32 MB of float64 in the model file; past it, inference needs the training rows.
MAX_KEPT_INFORMATION_PARAMS = 2_000


def train_multiclass(
    data: TableLike,
    target: str,
    *,
    C: float = 1.0,
    test_size: float = 0.2,
    seed: int = 0,
    spec: FeatureSpec | None = None,
    ignore: Iterable[str] = (),
    drop_missing_target: bool = False,
    calibrate: str | None = None,
    folds: int = 5,
) -> MulticlassModel:
    """Fit features and a multinomial (softmax) logistic regression on ``data``; evaluate on a
    seeded stratified held-out share.

    ``calibrate="temperature"`` fits one temperature T on cross-fitted logits of the training rows
    (``folds`` stratified folds, features refitted per fold) and stores it: ``predict_proba`` returns
    softmax(logits / T), ``predict_proba(raw=True)`` the uncalibrated probabilities.
    """
    started = time.perf_counter()
    if not (isinstance(test_size, (int, float)) and 0 <= test_size < 1):
        raise ParameterError(f"test_size must be in [0, 1), got {test_size!r}")
    if calibrate not in (None, "temperature"):
        raise ParameterError(f"calibrate must be 'temperature' or None for a multiclass model, got {calibrate!r}")
    table = to_arrow(data)
    if target not in table.column_names:
        raise TargetError(f"target column {target!r} is not in the table; its columns are {table.column_names}")
    table, dropped = _handle_missing_target(table, target, drop_missing_target)
    classes = resolve_classes(table, target)
    y_all = classes.encode(table)
    if spec is None:
        spec = _one_hot_instead_of_target_encoding(FeatureSpec.infer(table, target=target, ignore=ignore))
    encoded = [c.name for c in spec.columns if c.kind == "target"]
    if encoded:
        raise SchemaError(
            f"column(s) {encoded} are target-encoded, which needs a binary target; give them kind "
            "'categorical' or 'hashing' in the spec for a multiclass model"
        )
    train_idx, test_idx = stratified_split(y_all, test_size, seed)
    train_table = table.take(pa.array(train_idx))
    y = y_all[train_idx]
    missing = [classes.classes[k] for k in range(len(classes.classes)) if not np.any(y == k)]
    if missing:
        raise TargetError(f"the training rows hold no row of class(es) {missing}; lower test_size or add data")
    features, X = spec.fit_transform(train_table)
    n_classes = len(classes.classes)
    references = reference_levels(spec, features) if math.isinf(C) else {}
    estimator, coef, intercept, aliased = _fit_softmax(X, y, C, n_classes, tuple(references))
    if math.isinf(C):
        _refuse_separation(X, y, coef, intercept, aliased, features.design_names, classes.classes, target)
    statistics = {"design_mean": X.mean(axis=0)}  # the reference point of MulticlassModel.explain
    if math.isinf(C) and n_classes * (X.shape[1] + 1) <= MAX_KEPT_INFORMATION_PARAMS:
        statistics.update(multinomial_information(X, y, coef, intercept))
        statistics["aliased"] = aliased.astype(np.float64)  # the file keeps float arrays
    temperature = None
    if calibrate == "temperature":
        temperature = fit_temperature(y, _cross_fitted_logits(spec, train_table, y, C, folds, seed)).temperature
    model = MulticlassModel(
        features=features,
        target=classes,
        coef=coef,
        intercept=intercept,
        temperature=temperature,
        params={"C": _json_number(C), "test_size": test_size, "seed": seed, "calibrate": calibrate, "folds": folds},
        info={
            "n_rows": table.num_rows,
            "n_train": len(train_idx),
            "n_test": len(test_idx),
            "rows_dropped_missing_target": dropped,
            "n_design_columns": features.n_design,
            "reference_levels": {column: level for j, (column, level) in references.items() if j in aliased},
            "aliased": [features.design_names[j] for j in aliased if j not in references],
            "data_fingerprint": fingerprint(table),
            "ignored_columns": {name: reason for name, reason in spec.ignored},
            "fit": _jsonable(estimator.fit_info_),
            "solver_reason": estimator.solver_["reason"],
            "oddsline_version": __version__,
            "training_rows": training_sketch(train_table, [*features.source_columns, target]),
        },
        statistics=statistics,
    )
    model.info["reference"] = _monitoring_reference(model, train_table, X, y)
    if len(test_idx):
        model.info["evaluation"] = model.evaluate(table.take(pa.array(test_idx)))
    model.info["train_seconds"] = time.perf_counter() - started
    return model


def _one_hot_instead_of_target_encoding(spec: FeatureSpec) -> FeatureSpec:
    """Inference target-encodes text of many levels, which needs a binary target; here such a column
    is one-hot encoded with levels seen fewer than 20 times pooled into the rare bucket."""
    columns = tuple(
        ColumnSpec(c.name, "categorical", {"min_frequency": 20}, "many levels, multiclass: one-hot, rare levels pooled")
        if c.kind == "target"
        else c
        for c in spec.columns
    )
    return FeatureSpec(columns, spec.strict, spec.ignored)


def _monitoring_reference(
    model: MulticlassModel, table: pa.Table, X: NDArray[np.float64], y: NDArray[np.int64]
) -> dict[str, object]:
    """What ``oddsline monitor`` compares new rows with (``monitor/reference.py``): each column's
    training distribution, weighted by its importance over the classes (sum of |coef| x std), the
    training rows' confidence (``drift.score_of``) and the class shares."""
    importance = np.abs(model.coef).sum(axis=0)
    reference = capture_reference(
        model.features, table, score_of(model, table), y.astype(np.float64), importance, X.std(axis=0)
    )
    del reference["label_rate"]  # a binary model's positive rate
    reference["class_rates"] = (np.bincount(y, minlength=len(model.classes)) / y.shape[0]).tolist()
    return reference


def _fit_softmax(
    X: NDArray[np.float64], y: NDArray[np.int64], C: float, n_classes: int, prefer: tuple[int, ...] = ()
) -> tuple[LogisticRegression, NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]]:
    """The fitted estimator, (K, d) coefficients, (K,) intercepts and the aliased design columns.
    Unpenalised, the fit is made on the identified columns only and the others get 0 in every class."""
    if not math.isinf(C):
        estimator = LogisticRegression(C=C, multi_class="multinomial").fit(X, y)
        return estimator, *_softmax_parameters(estimator, n_classes), np.array([], dtype=np.intp)
    aliased = aliased_design_columns(X, prefer)
    keep = np.setdiff1d(np.arange(X.shape[1]), aliased)
    # The statsmodels-equivalent fit: Newton converges quadratically, so a tolerance 100x below the
    # default costs about one more step and leaves probabilities within 1e-9 of MNLogit's optimum.
    estimator = LogisticRegression(C=C, multi_class="multinomial", tol=1e-10)
    estimator.fit(np.ascontiguousarray(X[:, keep]), y)
    reduced, intercept = _softmax_parameters(estimator, n_classes)
    coef = np.zeros((reduced.shape[0], X.shape[1]))
    coef[:, keep] = reduced
    return estimator, coef, intercept, aliased


# A fitted probability below exp(-15) (3e-7) suggests that a class is (quasi-)separated; the linear
# programme then decides, as the binary estimator does (estimator._raise_if_separated).
_SEPARATION_LOG_PROBABILITY = -15.0


def _refuse_separation(
    X: NDArray[np.float64],
    y: NDArray[np.int64],
    coef: NDArray[np.float64],
    intercept: NDArray[np.float64],
    aliased: NDArray[np.intp],
    names: list[str],
    classes: Sequence[object],
    target: str,
) -> None:
    """An unpenalised softmax fit has no finite estimate when a class is (quasi-)separated from the
    others: a direction v with v.x >= 0 on its rows and <= 0 on the others' (a category level no row of
    the class has, say) lets its coefficients run to infinity. Each class against the rest is checked
    by the linear programme of ``core/separation.py`` when a fitted probability is that extreme."""
    logits = X @ coef.T + intercept
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    if log_p.min() > _SEPARATION_LOG_PROBABILITY:
        return
    keep = np.setdiff1d(np.arange(X.shape[1]), aliased)
    for k, label in enumerate(classes):
        found = find_separation(X[:, keep], (y == k).astype(np.float64), np.ones(y.shape[0]), True)
        if found is None:
            continue
        columns = tuple(int(keep[j]) for j in found.columns)
        shown = ", ".join(repr(names[j]) for j in columns) or "the intercept alone"
        raise SeparationError(
            f"class {label!r} of {target!r} is {found.kind}ly separated from the others by {shown} "
            f"({found.n_separated_rows} rows predicted perfectly): an unpenalised fit has no finite estimate. "
            "Use a finite C (--C 1), or drop or merge those columns/levels",
            columns=columns,
        )


def _softmax_parameters(
    estimator: LogisticRegression, n_classes: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(K, d) coefficients and (K,) intercepts; a two-class softmax fit is stored with both rows."""
    coef, intercept = np.asarray(estimator.coef_, dtype=np.float64), np.asarray(estimator.intercept_, dtype=np.float64)
    if coef.shape[0] == 1 and n_classes == 2:  # scikit-learn's convention for two classes: one row
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.r_[-intercept / 2, intercept / 2]
    return coef, intercept


def _cross_fitted_logits(
    spec: FeatureSpec, table: pa.Table, y: NDArray[np.int64], C: float, folds: int, seed: int
) -> NDArray[np.float64]:
    """Out-of-fold logits of the training rows (features refitted per fold: no leak)."""
    n_classes = int(y.max()) + 1
    out = np.empty((y.shape[0], n_classes))
    for fit_rows, held in stratified_folds(y, folds, seed):
        part = table.take(pa.array(fit_rows))
        features, X = spec.fit_transform(part)
        if np.unique(y[fit_rows]).shape[0] != n_classes:
            raise TargetError("a cross-fitting fold lacks a class; use fewer folds or add rows of the rare classes")
        prefer = tuple(reference_levels(spec, features)) if math.isinf(C) else ()
        _, coef, intercept, _ = _fit_softmax(X, y[fit_rows], C, n_classes, prefer)
        out[held] = features.transform(table.take(pa.array(held))) @ coef.T + intercept
    return out
