"""The per-batch kernel of a streamed pass (``distributed/kernel.py``, ``_onehot.c``) against the
product on the materialised design: the Gram matrix from one-hot codes, compiled and by the fallback."""

from __future__ import annotations

import os

import numpy as np
import pytest

from oddsline.core import one_hot as core_one_hot
from oddsline.core.one_hot import one_hot_rows
from oddsline.distributed import kernel


def test_gram_from_codes_equals_the_full_product() -> None:
    """The kernel's Gram matrix from dense columns and one-hot codes, compiled and by the GEMM fallback,
    against [X, onehot, 1]^T diag(h) [X, onehot, 1] on the materialised 0/1 columns."""
    rng = np.random.default_rng(5)
    n = 500
    dense = np.asfortranarray(rng.normal(size=(n, 3)))
    codes, onehot, at = [], [], 0
    for width in (4, 1, 6):
        level = rng.integers(-1, width, n)  # -1: a row in none of the levels (an unseen level)
        block = np.zeros((n, width))
        block[level >= 0, level[level >= 0]] = 1.0
        onehot.append(block)
        codes.append(np.where(level >= 0, level + at, -1))
        at += width
    one_hot = kernel.OneHotCodes(np.stack(codes, axis=1).astype(np.int32), at)
    np.testing.assert_array_equal(one_hot.dense(), np.hstack(onehot))
    h = rng.random(n)
    Xt = np.hstack([dense, *onehot, np.ones((n, 1))])
    expected = Xt.T @ (Xt * h[:, None])
    np.testing.assert_allclose(kernel._gram(dense, h, one_hot), expected, rtol=1e-12, atol=1e-12)
    fallback = one_hot_rows(one_hot.codes, at, dense, h, compiled=False)
    compiled = one_hot_rows(one_hot.codes, at, dense, h)
    for got, want in zip(compiled, fallback, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    no_codes = kernel.OneHotCodes.none(n)
    np.testing.assert_allclose(
        kernel._gram(dense, h, no_codes), Xt[:, [0, 1, 2, -1]].T @ (Xt[:, [0, 1, 2, -1]] * h[:, None])
    )
    # Sums at a theta: the same loss and gradient as the materialised design.
    theta = rng.normal(size=Xt.shape[1])
    y = (rng.random(n) < 0.4).astype(float)
    sums = kernel.batch_sums(dense, y, np.ones(n), theta, True, one_hot, with_design=True)
    full = kernel.batch_sums(np.asfortranarray(Xt[:, :-1]), y, np.ones(n), theta, True, None, with_design=True)
    assert sums.loss == pytest.approx(full.loss, rel=1e-13)
    np.testing.assert_allclose(sums.gradient, full.gradient, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sums.hessian, full.hessian, rtol=1e-12, atol=1e-12)
    for a, b in zip(sums.design or [], full.design or [], strict=True):
        assert (a.n, a.mean) == pytest.approx((b.n, b.mean), rel=1e-13)
        assert a.m2 == pytest.approx(b.m2, rel=1e-12, abs=1e-12)


def test_compiled_kernel_is_built_where_required() -> None:
    if core_one_hot._onehot is None:
        reason = "oddsline.core._onehot was not built (no C compiler when the package was installed)"
        if os.environ.get("ODDSLINE_REQUIRE_COMPILED"):
            raise RuntimeError(reason + "; ODDSLINE_REQUIRE_COMPILED is set")
        pytest.skip(reason)
    with pytest.raises(ValueError, match="past the last one-hot column"):
        core_one_hot._onehot.accumulate(
            np.array([[5]], dtype=np.int32), np.zeros((0, 1)), np.ones(1), np.zeros((2, 2)), 1, 0, 1, 2
        )
    with pytest.raises(ValueError, match="buffer sizes"):
        core_one_hot._onehot.accumulate(
            np.array([[0]], dtype=np.int32), np.zeros((0, 1)), np.ones(2), np.zeros((2, 2)), 1, 0, 1, 2
        )
