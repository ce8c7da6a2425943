"""Mostly-zero dense designs are solved on a CSR copy: same optimum, and the copy is exact."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from oddsline import LogisticRegression
from oddsline.core.sparsity import MIN_ELEMENTS, as_csr_if_mostly_zero


def _one_hot_design(n: int = 24_000, levels: tuple[int, ...] = (20, 15, 12, 8), seed: int = 0):
    """Several one-hot blocks and one numeric column, as an encoder emits them: about 5% non-zero."""
    rng = np.random.default_rng(seed)
    blocks, signal = [], np.zeros(n)
    for k in levels:
        codes = rng.integers(0, k, size=n)
        blocks.append(np.eye(k)[codes])
        signal += rng.normal(size=k)[codes] * 0.5
    numeric = rng.normal(size=n)
    X = np.column_stack([*blocks, numeric])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(signal + 0.8 * numeric - 0.5)))).astype(float)
    return X, y


def _objective(X, y, coef, intercept, C, l1_ratio=0.0):
    eta = X @ coef + intercept
    penalty = (1 - l1_ratio) / 2 * coef @ coef + l1_ratio * np.abs(coef).sum()
    return float(np.sum(np.logaddexp(0, eta) - y * eta) + penalty / C)


def test_the_copy_is_exactly_scipys_csr():
    X, _ = _one_hot_design()
    X[5, -1] = 0.0  # an explicit zero in the numeric column is not stored
    csr, density = as_csr_if_mostly_zero(X)
    assert csr is not None and density == pytest.approx(np.count_nonzero(X) / X.size)
    reference = sp.csr_matrix(X)
    assert csr.nnz == reference.nnz
    np.testing.assert_array_equal(csr.indptr, reference.indptr)
    np.testing.assert_array_equal(csr.indices, reference.indices)
    np.testing.assert_array_equal(csr.data, reference.data)


def test_small_or_dense_designs_stay_dense():
    rng = np.random.default_rng(1)
    small = np.eye(50)[rng.integers(0, 50, size=1000)]
    assert small.size < MIN_ELEMENTS and as_csr_if_mostly_zero(small)[0] is None
    dense = rng.normal(size=(20_000, 60))
    assert as_csr_if_mostly_zero(dense)[0] is None


@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_a_mostly_zero_dense_design_reaches_sklearns_optimum_on_its_csr_copy(l1_ratio):
    X, y = _one_hot_design()
    C = 0.05
    ours = LogisticRegression(C=C, l1_ratio=l1_ratio, tol=1e-10).fit(X, y)
    assert "CSR copy" in ours.solver_["reason"]
    solver = "newton-cholesky" if l1_ratio == 0 else "liblinear"
    if l1_ratio == 0:
        reference = SkLogisticRegression(C=C, solver=solver, tol=1e-12, max_iter=1000).fit(X, y)
        f_ref = _objective(X, y, reference.coef_[0], reference.intercept_[0], C)
        f_ours = _objective(X, y, ours.coef_[0], ours.intercept_[0], C)
        assert f_ours <= f_ref * (1 + 1e-8)
    on_csr = LogisticRegression(C=C, l1_ratio=l1_ratio, tol=1e-10).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(ours.coef_, on_csr.coef_, rtol=1e-9, atol=1e-11)
    # the dense array handed in is never modified
    assert np.array_equal(X, _one_hot_design()[0])
