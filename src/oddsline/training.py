"""``oddsline.train``: from a labelled table to a :class:`Model`, with a held-out evaluation."""

from __future__ import annotations

import hashlib
import math
import platform
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ._exceptions import ParameterError, SeparationError, TargetError
from ._version import __version__
from .estimator import LogisticRegression
from .features import FeatureSpec
from .inference import information_at_fit
from .io import TableLike, to_arrow
from .model import Model
from .target import Label, resolve_target

__all__ = ["stratified_split", "train"]


def train(
    data: TableLike,
    target: str,
    positive: Label | None = None,
    *,
    C: float = 1.0,
    test_size: float = 0.2,
    seed: int = 0,
    spec: FeatureSpec | None = None,
    ignore: Iterable[str] = (),
    drop_missing_target: bool = False,
) -> Model:
    """Fit features and a binary logistic regression on ``data`` and evaluate on a held-out split.

    The split is stratified and seeded; features are fitted on the training rows only. With
    ``test_size=0`` every row trains the model and no evaluation is stored.
    """
    started = time.perf_counter()
    if not (isinstance(test_size, (int, float)) and 0 <= test_size < 1):
        raise ParameterError(f"test_size must be in [0, 1), got {test_size!r}")
    table = to_arrow(data)
    if target not in table.column_names:
        raise TargetError(f"target column {target!r} is not in the table; its columns are {table.column_names}")
    table, dropped = _handle_missing_target(table, target, drop_missing_target)
    binary = resolve_target(table, target, positive)
    y_all = binary.encode(table)
    spec = spec or FeatureSpec.infer(table, target=target, ignore=ignore)
    train_idx, test_idx = stratified_split(y_all, test_size, seed)
    train_table = table.take(pa.array(train_idx))
    y = y_all[train_idx]
    features, X = spec.fit_transform(train_table, y)
    if y.min() == y.max():
        raise TargetError(f"the training rows hold only one class of {target!r}; lower --test-size or add data")
    estimator = LogisticRegression(C=C)
    try:
        estimator.fit(X, y)
    except SeparationError as exc:
        names = ", ".join(repr(features.design_names[j]) for j in exc.columns)
        raise SeparationError(
            f"the classes of {target!r} are separated by {names}: an unpenalised fit has no finite "
            "estimate. Use a finite C (--C 1), or drop or merge those columns/levels",
            columns=exc.columns,
        ) from None
    statistics = information_at_fit(estimator, X, y)
    statistics["design_mean"] = X.mean(axis=0)  # the reference point of Model.explain
    info: dict[str, Any] = {
        "n_rows": table.num_rows,
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "rows_dropped_missing_target": dropped,
        "n_design_columns": features.n_design,
        "data_fingerprint": fingerprint(table),
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
        threshold=0.5,
        params={"C": _json_number(C), "test_size": test_size, "seed": seed, "penalty": "l2"},
        info=info,
    )
    if len(test_idx):
        test_table = table.take(pa.array(test_idx))
        info["evaluation"] = model.evaluate(test_table)
    info["train_seconds"] = time.perf_counter() - started
    return model


def stratified_split(
    y: NDArray[np.float64], test_size: float, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Seeded split that keeps each class's share in both parts; indices come back sorted."""
    rng = np.random.default_rng(seed)
    test: list[NDArray[np.int64]] = []
    for value in (0.0, 1.0):
        members = np.flatnonzero(y == value)
        n_test = round(test_size * len(members))
        test.append(rng.permutation(members)[:n_test])
    test_idx = np.sort(np.concatenate(test))
    train_mask = np.ones(len(y), dtype=bool)
    train_mask[test_idx] = False
    return np.flatnonzero(train_mask), test_idx


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
