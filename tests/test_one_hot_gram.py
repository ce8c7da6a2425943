"""The in-memory Hessian of a CSR design whose sparse columns are one-hot blocks, built from level codes
(``core/one_hot.py``, ``_onehot.c``), against the dense product and scipy's sparse product."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

import oddsline
from oddsline.core import one_hot
from oddsline.core.objective import Problem

pytestmark = pytest.mark.skipif(not one_hot.COMPILED, reason="oddsline.core._onehot was not built (no C compiler)")


def _design(rng: np.random.Generator, n: int = 3000) -> np.ndarray:
    """Two numbers, then one-hot blocks of 5, 1 and 12 levels; the last leaves a tenth of the rows out."""
    blocks = []
    for width, empty in ((5, 0.0), (1, 0.0), (12, 0.1)):
        level = rng.integers(0, width, n)
        block = np.zeros((n, width))
        keep = rng.random(n) >= empty
        block[np.flatnonzero(keep), level[keep]] = 1.0
        blocks.append(block)
    return np.hstack([rng.normal(size=(n, 2)), *blocks])


def test_codes_are_found_for_one_hot_blocks_and_only_for_them() -> None:
    rng = np.random.default_rng(1)
    X = _design(rng)
    codes = one_hot.one_hot_codes(sp.csr_matrix(X[:, 2:]))
    assert codes is not None and codes.shape == (3000, 3)
    np.testing.assert_array_equal(one_hot.one_hot_matrix(codes, 18), X[:, 2:])
    assert one_hot.one_hot_codes(sp.csr_matrix(X)) is None  # the numbers are not 0/1
    overlapping = X[:, 2:].copy()
    overlapping[:, 0] = 1.0  # a column non-zero in every row still makes blocks: it starts its own
    found = one_hot.one_hot_codes(sp.csr_matrix(overlapping))
    assert found is not None
    np.testing.assert_array_equal(one_hot.one_hot_matrix(found, 18), overlapping)
    assert one_hot.one_hot_codes(sp.csr_matrix(np.eye(200)[:, :0])) is None
    assert one_hot.one_hot_codes(sp.csr_matrix(np.ones((10, 100)))) is None  # 100 blocks of one column


def test_the_hessian_from_codes_equals_the_dense_and_the_sparse_products() -> None:
    rng = np.random.default_rng(2)
    X = _design(rng)
    y = (rng.random(3000) < 0.3).astype(float)
    weight = rng.random(3000) + 0.5
    h = rng.random(3000)
    sparse = Problem(sp.csr_matrix(X), y, weight, C=2.0)
    dense = Problem(X, y, weight, C=2.0)
    got = sparse.hessian_from_curvature(h)
    assert sparse._one_hot_codes() is not None  # the codes path ran
    np.testing.assert_allclose(got, dense.hessian_from_curvature(h), rtol=1e-12, atol=1e-14)
    # Restricted to some columns (coordinate descent's active set), the sparse product serves.
    index = np.array([0, 3, 9, 20])
    np.testing.assert_allclose(
        sparse.hessian_from_curvature(h, columns=index[:-1]),
        dense.hessian_from_curvature(h, columns=index[:-1]),
        rtol=1e-12,
        atol=1e-14,
    )


def test_flights_fits_the_same_from_a_sparse_or_a_dense_design() -> None:
    import pandas as pd

    frame = pq.read_table("examples/data/nyc_flights_2013_sample.parquet").to_pandas()
    frame = frame[frame["arr_delay"].notna()]
    y = (frame["arr_delay"] > 15).to_numpy()
    cats = pd.get_dummies(frame[["carrier", "origin", "dest"]].astype(str), dtype=float).to_numpy()
    nums = frame[["distance", "sched_dep_time"]].to_numpy(dtype=float)
    X = np.column_stack([cats, (nums - nums.mean(axis=0)) / nums.std(axis=0)])
    dense = oddsline.LogisticRegression(C=1.0, tol=1e-10).fit(X, y)
    sparse = oddsline.LogisticRegression(C=1.0, tol=1e-10).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9, atol=1e-11)
    assert sparse.n_iter_[0] == dense.n_iter_[0]
