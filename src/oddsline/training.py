"""``oddsline.train``: from a labelled table to a :class:`Model`, with a held-out evaluation."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import math
import os
import platform
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ._exceptions import LeakageWarning, ParameterError, SeparationError, TargetError
from ._version import __version__
from .calibration import METHODS, fit_calibrator
from .core.path import stratified_folds
from .features import FeatureSpec
from .identification import fit_identified, reference_levels
from .inference import information_at_fit
from .io import TableLike, to_arrow
from .leakage import leakage_warnings, single_column_auc
from .model import Model
from .monitor.reference import capture_reference
from .overlap import training_sketch
from .regularization import LogisticRegressionCV, check_l1_ratio, penalty_name
from .splits import SPLITS, group_split, stratified_split, time_split
from .target import Label, resolve_target
from .threshold import choose_threshold

__all__ = ["train"]


def train(
    data: TableLike,
    target: str,
    positive: Label | None = None,
    *,
    C: float = 1.0,
    l1_ratio: float = 0.0,
    test_size: float = 0.2,
    seed: int = 0,
    spec: FeatureSpec | None = None,
    ignore: Iterable[str] = (),
    drop_missing_target: bool = False,
    calibrate: str | None = None,
    threshold: str | float = 0.5,
    class_weight: str | None = None,
    folds: int = 5,
    split: str = "random",
    time_column: str | None = None,
    group_column: str | None = None,
    cv: int | None = None,
    allow_leaky: bool = False,
    engine: Any = None,
    scheduler: str | None = None,
) -> Model:
    """Fit features and a binary logistic regression on ``data`` and evaluate on a held-out split.

    The split is stratified and seeded; features are fitted on the training rows only. With
    ``test_size=0`` every row trains the model and no evaluation is stored.

    ``calibrate`` ("platt" or "isotonic") and a ``threshold`` rule (see ``oddsline.threshold``; a
    number is used as it is) are fitted on cross-fitted predictions: the training rows are cut into
    ``folds`` stratified folds, each scored by a model (features included) fitted on the others, so
    neither the calibrator nor the threshold sees a score of a row its model trained on.

    ``split`` chooses the held-out rows: "random" (stratified), "time" (the latest by ``time_column``)
    or "group" (whole groups of ``group_column``; that column is not used as a feature). ``cv`` = K
    chooses C among 20 values on the regularisation path by K-fold log loss on the training rows
    (time-ordered folds under a time split); ``C`` is then ignored.

    ``l1_ratio`` is the L1 share of the penalty, ``(1/C) ((1 - l1_ratio)/2 ||beta||^2 + l1_ratio ||beta||_1)``:
    0 is ridge (the default), 1 the lasso, which sets coefficients to exactly 0; it needs a finite C.

    With an inferred spec, columns that cannot help (empty, constant, identifiers; the time column of a
    time split) are left out and listed in ``model.info["ignored_columns"]``, and a column that alone
    nearly separates the classes raises a :class:`LeakageWarning` (also kept in ``model.info["warnings"]``)
    unless ``allow_leaky``. With ``C=inf`` the fit is identified: categorical columns are coded against a
    reference level and aliased columns get no estimate (see ``identification.py``).

    Data larger than memory: a folder, a glob or a list of files, or ``engine="local"`` / ``"dask"`` (or an
    ``oddsline.distributed`` engine), streams the rows in passes instead (``distributed/train.py``): the
    same model to rounding, memory bounded by a batch per worker. ``scheduler`` is a Dask address.
    """
    if is_source(data, engine):
        return _train_source(
            data,
            target,
            positive,
            engine=engine,
            scheduler=scheduler,
            C=C,
            l1_ratio=l1_ratio,
            test_size=test_size,
            seed=seed,
            spec=spec,
            ignore=ignore,
            drop_missing_target=drop_missing_target,
            calibrate=calibrate,
            threshold=threshold,
            class_weight=class_weight,
            split=split,
            cv=cv,
            allow_leaky=allow_leaky,
        )
    started = time.perf_counter()
    check_l1_ratio(l1_ratio, C if cv is None else 1.0)
    if not (isinstance(test_size, (int, float)) and 0 <= test_size < 1):
        raise ParameterError(f"test_size must be in [0, 1), got {test_size!r}")
    table = to_arrow(data)
    if target not in table.column_names:
        raise TargetError(f"target column {target!r} is not in the table; its columns are {table.column_names}")
    table, dropped = _handle_missing_target(table, target, drop_missing_target)
    binary = resolve_target(table, target, positive)
    y_all = binary.encode(table)
    if split not in SPLITS:
        raise ParameterError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if split == "group" and group_column is not None and group_column in table.column_names:
        ignore = [*ignore, group_column]
    if split == "time" and time_column is not None and time_column in table.column_names:
        ignore = [*ignore, time_column]  # the split extrapolates in it: as a feature it only measures age
    inferred = spec is None
    spec = spec or FeatureSpec.infer(table, target=target, ignore=ignore)
    if inferred and split in ("time", "group"):
        role = {time_column: "the time column of the time split", group_column: "the group column of the group split"}
        spec = dataclasses.replace(spec, ignored=tuple((n, role.get(n, r)) for n, r in spec.ignored))
    if split == "time":
        train_idx, test_idx = time_split(table, time_column, test_size)
    elif split == "group":
        train_idx, test_idx = group_split(table, group_column, test_size, seed)
    else:
        train_idx, test_idx = stratified_split(y_all, test_size, seed)
    train_table = table.take(pa.array(train_idx))
    y = y_all[train_idx]
    features, X = spec.fit_transform(train_table, y)
    if y.min() == y.max():
        raise TargetError(f"the training rows hold only one class of {target!r}; lower --test-size or add data")
    if calibrate is not None and calibrate not in METHODS:
        raise ParameterError(f"calibrate must be one of {', '.join(METHODS)} or None, got {calibrate!r}")
    selection = None
    if cv is not None:
        search = LogisticRegressionCV(
            20, cv=cv, time_ordered=split == "time", random_state=seed, class_weight=class_weight, l1_ratio=l1_ratio
        )
        search.fit(X, y)
        C = float(search.C_)
        selection = {"cv": cv, "time_ordered": split == "time", "C": C}
    references = reference_levels(spec, features) if math.isinf(C) else {}
    try:
        identified = fit_identified(X, y, C, class_weight, tuple(references), l1_ratio)
    except SeparationError as exc:
        names = ", ".join(repr(features.design_names[j]) for j in exc.columns)
        raise SeparationError(
            f"the classes of {target!r} are separated by {names}: an unpenalised fit has no finite "
            "estimate. Use a finite C (--C 1), or drop or merge those columns/levels",
            columns=exc.columns,
        ) from None
    calibrator, chosen = None, None
    if calibrate is not None or isinstance(threshold, str):
        p_oof = _cross_fitted(spec, train_table, y, C, class_weight, folds, seed, l1_ratio)
        if calibrate is not None:
            calibrator = fit_calibrator(y, p_oof, calibrate)
            p_oof = calibrator.apply(p_oof)
        if isinstance(threshold, str):
            chosen = choose_threshold(y, p_oof, threshold)
    decision_threshold = chosen.threshold if chosen is not None else float(threshold)
    if not 0 <= decision_threshold <= 1:
        raise ParameterError(f"threshold must be in [0, 1] or a rule such as 'f1', got {threshold!r}")
    estimator = identified.estimator
    statistics = information_at_fit(estimator, X, y)
    if math.isinf(C):
        statistics["aliased"] = identified.aliased.astype(np.float64)  # the file keeps float arrays
    statistics["design_mean"] = X.mean(axis=0)  # the reference point of Model.explain
    design_std = X.std(axis=0)
    info: dict[str, Any] = {
        "n_rows": table.num_rows,
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "rows_dropped_missing_target": dropped,
        "n_design_columns": features.n_design,
        "reference_levels": {column: level for j, (column, level) in references.items() if j in identified.aliased},
        "aliased": [features.design_names[j] for j in identified.aliased if j not in references],
        "data_fingerprint": fingerprint(table),
        "ignored_columns": {name: reason for name, reason in spec.ignored},
        "fit": _jsonable(estimator.fit_info_),
        "solver_reason": estimator.solver_["reason"],
        "oddsline_version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    model = Model(
        features=features,
        target=binary,
        coef=estimator.coef_[0].copy(),
        statistics=statistics,
        intercept=float(estimator.intercept_[0]),
        threshold=decision_threshold,
        calibrator=calibrator,
        params={
            "C": _json_number(C),
            "test_size": test_size,
            "seed": seed,
            "penalty": penalty_name(l1_ratio),
            "l1_ratio": float(l1_ratio),
            "class_weight": class_weight,
            "calibrate": calibrate,
            "threshold_rule": chosen.rule if chosen is not None else None,
            "folds": folds,
            "split": split,
            "time_column": time_column,
            "group_column": group_column,
            "C_selection": selection,
            "cv": cv,
            "spec": spec.to_dict(),  # what `oddsline retrain` refits on new data
        },
        info=info,
    )
    info["training_rows"] = training_sketch(train_table, [*features.source_columns, target])
    train_scores = estimator.predict_proba(X)[:, 1]
    info["reference"] = capture_reference(features, train_table, train_scores, y, model.coef, design_std)
    if len(test_idx):
        test_table = table.take(pa.array(test_idx))
        info["evaluation"] = model.evaluate(test_table)
    if inferred and not allow_leaky:
        held_out_auc = info.get("evaluation", {}).get("roc_auc")
        info["warnings"] = leakage_warnings(single_column_auc(features, X, y, model.coef), held_out_auc)
        for message in info["warnings"]:
            warnings.warn(message, LeakageWarning, stacklevel=2)
    info["train_seconds"] = time.perf_counter() - started
    return model


def is_source(data: TableLike, engine: Any) -> bool:
    """Is ``data`` to be streamed: an engine asked for, or several files, a folder or a glob?"""
    if engine is not None and engine != "memory":
        return True
    from .sources import is_dask_frame

    if is_dask_frame(data):
        return True
    if isinstance(data, (list, tuple)) and data and all(isinstance(d, (str, os.PathLike)) for d in data):
        return True
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        return path.is_dir() or (not path.exists() and glob.has_magic(str(data)))
    return False


def _train_source(data: TableLike, target: str, positive: Label | None, **options: Any) -> Model:
    from .distributed import DaskEngine, Engine, make_engine, train_streamed
    from .distributed.train import refuse_unstreamed
    from .sources import FileSource, FrameSource, is_dask_frame, open_source

    refuse_unstreamed(
        calibrate=options.pop("calibrate"), cv=options.pop("cv"), split=options.pop("split"), multiclass=False
    )
    engine, scheduler = options.pop("engine"), options.pop("scheduler")
    if is_dask_frame(data):
        frame_source = FrameSource(data)
        if isinstance(engine, Engine):
            return train_streamed(frame_source, target, positive, engine=engine, **options)
        if engine in (None, "auto", "dask") and scheduler is None:
            client = _default_dask_client()
            if client is not None:  # the user's cluster, as dask itself would use it
                return train_streamed(frame_source, target, positive, engine=DaskEngine(client=client), **options)
        with make_engine("local" if engine in (None, "auto") else engine, scheduler) as owned:
            return train_streamed(frame_source, target, positive, engine=owned, **options)
    paths = isinstance(data, (str, os.PathLike)) or (
        isinstance(data, (list, tuple)) and all(isinstance(d, (str, os.PathLike)) for d in data)
    )
    if not (paths or isinstance(data, FileSource)):
        raise ParameterError(
            f"engine={engine!r} streams files: give a file, a folder, a glob, a list of files or a Dask DataFrame "
            f"(got a {type(data).__name__}); a table already in memory trains with engine=None"
        )
    source = data if isinstance(data, FileSource) else open_source(data)
    if isinstance(engine, Engine):
        return train_streamed(source, target, positive, engine=engine, **options)
    with make_engine("local" if engine in (None, "auto") else engine, scheduler) as owned:
        return train_streamed(source, target, positive, engine=owned, **options)


def _default_dask_client() -> Any:
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        # distributed leaves default_client unannotated; it returns the process's Client.
        return cast("Callable[[], Any]", default_client)()
    except ValueError:  # no client in this process
        return None


def _cross_fitted(
    spec: FeatureSpec,
    table: pa.Table,
    y: NDArray[np.float64],
    C: float,
    class_weight: str | None,
    folds: int,
    seed: int,
    l1_ratio: float = 0.0,
) -> NDArray[np.float64]:
    """Out-of-fold raw probabilities of the training rows (features refitted per fold: no leak)."""
    out = np.empty(y.shape[0])
    for fit_rows, held in stratified_folds(y.astype(np.int64), folds, seed):
        part = table.take(pa.array(fit_rows))
        features, X = spec.fit_transform(part, y[fit_rows])
        prefer = tuple(reference_levels(spec, features)) if math.isinf(C) else ()
        model = fit_identified(X, y[fit_rows], C, class_weight, prefer, l1_ratio).estimator
        out[held] = model.predict_proba(features.transform(table.take(pa.array(held))))[:, 1]
    return out


def fingerprint(table: pa.Table) -> dict[str, Any]:
    """Rows, columns and a content hash of the training table (Arrow IPC of its record batches)."""
    digest = hashlib.sha256()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    digest.update(sink.getvalue().to_pybytes())
    return {"rows": table.num_rows, "columns": table.column_names, "sha256": digest.hexdigest()}


def _handle_missing_target(table: pa.Table, target: str, drop: bool) -> tuple[pa.Table, int]:
    missing = table.column(target).null_count
    if not missing:
        return table, 0
    if not drop:
        raise TargetError(
            f"target column {target!r} is empty in {missing} row(s); fill in their labels or drop them "
            "(--drop-missing-target, drop_missing_target=True)"
        )
    return table.filter(pc.is_valid(table.column(target))), missing


def _json_number(value: float) -> float | str:
    return "inf" if math.isinf(value) else float(value)


def _jsonable(info: dict[str, Any]) -> dict[str, Any]:
    out = dict(info)
    for key in ("objective", "grad_norm"):
        if not math.isfinite(out[key]):
            out[key] = None
    return out
