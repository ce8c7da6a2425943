"""Held-out splits for ``train``: random (stratified), time (the latest rows), group (whole groups).

A random split of rows that share a customer or a day lets the model see the held-out rows' twins:
the evaluation flatters it. ``time`` holds out the latest ``test_size`` share of rows by a time column
(the model is scored on the future of what it learned from); ``group`` holds out whole groups, so no
group is on both sides. All are seeded and return sorted row indices.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ._exceptions import ParameterError, SchemaError
from .features.datetime_parts import timestamps_from_text

__all__ = ["SPLITS", "group_split", "stratified_split", "time_split"]

SPLITS = ("random", "time", "group")

Indices = tuple[NDArray[np.int64], NDArray[np.int64]]


def stratified_split(y: NDArray[np.float64] | NDArray[np.int64], test_size: float, seed: int) -> Indices:
    """Seeded split that keeps each class's share in both parts; indices come back sorted."""
    rng = np.random.default_rng(seed)
    test: list[NDArray[np.int64]] = []
    for value in np.unique(y):
        members = np.flatnonzero(y == value)
        n_test = round(test_size * len(members))
        test.append(rng.permutation(members)[:n_test])
    test_idx = np.sort(np.concatenate(test))
    train_mask = np.ones(len(y), dtype=bool)
    train_mask[test_idx] = False
    return np.flatnonzero(train_mask), test_idx


def _column(table: pa.Table, name: str | None, option: str) -> pa.ChunkedArray:
    if not name:
        raise ParameterError(f"this split needs {option} COL")
    if name not in table.column_names:
        raise SchemaError(f"{option} {name!r} is not a column; the columns are {table.column_names}")
    data = table.column(name)
    if data.null_count:
        raise SchemaError(
            f"{option} {name!r} is empty in {data.null_count} row(s); every row needs a value to be split"
        )
    return data


def time_split(table: pa.Table, column: str | None, test_size: float) -> Indices:
    """The latest ``test_size`` share of rows by ``column`` are held out. A timestamp shared across the cut
    goes wholly to the held-out side (the last month of a monthly export holds more than ``test_size`` of
    the rows: that month is held out), unless it spans every row up to the cut."""
    data = _column(table, column, "--time-column")
    if pa.types.is_string(data.type) or pa.types.is_large_string(data.type):
        # Text sorts as text: 08/18/2021 would come before 12/01/2020. Only ISO-8601 text orders as time.
        try:
            data = timestamps_from_text(data)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            sample = next((v for v in data.to_pylist() if v is not None), None)
            raise ParameterError(
                f"--time-column {column!r} holds text that is not an ISO-8601 timestamp (e.g. {sample!r}), so it "
                "cannot be ordered in time; convert it to YYYY-MM-DD[THH:MM:SS] or give a numeric time column"
            ) from None
    order = np.asarray(pc.sort_indices(data).to_numpy(), dtype=np.int64)
    cut = len(order) - round(test_size * len(order))
    values = data.take(pa.array(order)).to_pylist()
    start = cut
    while 0 < start < len(order) and values[start] == values[start - 1]:
        start -= 1
    if start > 0:
        cut = start
    else:  # the first timestamp reaches the cut: it trains, the later ones are held out
        while 0 < cut < len(order) and values[cut] == values[cut - 1]:
            cut += 1
    return np.sort(order[:cut]), np.sort(order[cut:])


def group_split(table: pa.Table, column: str | None, test_size: float, seed: int) -> Indices:
    """A seeded ``test_size`` share of the groups (by count of rows, approximately) is held out."""
    data = _column(table, column, "--group-column")
    codes = np.asarray(
        pc.dictionary_encode(data).combine_chunks().indices.to_numpy(zero_copy_only=False), dtype=np.int64
    )
    sizes = np.bincount(codes)
    if sizes.shape[0] < 2:
        raise ParameterError(f"--group-column {column!r} has a single group; a group split needs two or more")
    order = np.random.default_rng(seed).permutation(sizes.shape[0])
    held = order[np.cumsum(sizes[order]) <= round(test_size * codes.shape[0])]
    test = np.isin(codes, held)
    return np.flatnonzero(~test), np.flatnonzero(test)
