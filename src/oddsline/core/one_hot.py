"""One-hot blocks kept as level codes, and their rows of X~^T diag(h) X~ without the 0/1 columns.

A row has at most one non-zero, equal to 1, in each one-hot block, so its share of the one-hot rows of
the Gram matrix is h times its dense values added to the row of each of its levels, and h at each pair
of its levels. ``_onehot.c`` runs that loop (without the GIL); a sparse or dense product on the 0/1
columns does the same sums with more work: (non-zeros per row)^2 pairs per row for scipy's sparse
product, every zero for a GEMM. Used by the streamed kernel (distributed/kernel.py), whose one-hot
blocks arrive as codes, and by the in-memory Problem, which finds them in a CSR design
(``one_hot_codes``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

try:  # the compiled loop (_onehot.c beside this file); optional, like _jsonrows
    from . import _onehot  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - exercised where no C compiler was available
    _onehot = None

__all__ = ["COMPILED", "add_one_hot_rows", "mirror_upper", "one_hot_codes", "one_hot_matrix", "one_hot_rows"]

COMPILED = _onehot is not None

# Past this many blocks a row's pairs of blocks cost more than scipy's product of its non-zeros; past
# this many columns the search for blocks (a Python loop over columns) is not worth starting.
MAX_BLOCKS = 64
MAX_COLUMNS = 16_384


def one_hot_rows(
    codes: NDArray[np.int32],
    n_columns: int,
    X: NDArray[np.float64],
    h: NDArray[np.float64],
    compiled: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(onehot^T diag(h) X, onehot^T diag(h) onehot) for the one-hot columns of ``codes`` (n x blocks:
    each row's column in each block, blocks of increasing columns, -1 for none). Compiled, or by GEMM
    on the 0/1 columns when the extension was not built (or ``compiled=False``, as the tests compare).
    Both are views of one n_columns x (k + n_columns) array."""
    out = np.zeros((n_columns, X.shape[1] + n_columns))
    add_one_hot_rows(codes, n_columns, X, h, out, compiled)
    pairs = out[:, X.shape[1] :]
    mirror_upper(pairs)
    return out[:, : X.shape[1]], pairs


def add_one_hot_rows(
    codes: NDArray[np.int32],
    n_columns: int,
    X: NDArray[np.float64],
    h: NDArray[np.float64],
    out: NDArray[np.float64],
    compiled: bool = True,
) -> None:
    """Add onehot^T diag(h) X to ``out[:, :k]`` and the upper triangle (diagonal included) of
    onehot^T diag(h) onehot to ``out[:, k:]`` (``out``: n_columns x (k + n_columns), C order). Summed
    over the batches of a partition in one ``out``, the pairs are mirrored once (``mirror_upper``)."""
    n, k = X.shape
    if compiled and _onehot is not None:
        codes = np.ascontiguousarray(codes, dtype=np.int32)
        _onehot.accumulate(codes, np.asfortranarray(X).T, np.ascontiguousarray(h), out, n, k, codes.shape[1], n_columns)
        return
    M = one_hot_matrix(codes, n_columns)
    out[:, :k] += M.T @ (X * h[:, None])
    out[:, k:] += np.triu(M.T @ (M * h[:, None]))


def mirror_upper(A: NDArray[np.float64], block: int = 512) -> None:
    """Fill A's strict lower triangle from its upper one, in place, ``block`` rows at a time: a temporary
    of block x n rather than the n x n two of ``A + triu(A, 1).T`` (4,000 one-hot columns: 128 MB each)."""
    n = A.shape[0]
    for i0 in range(0, n, block):
        i1 = min(i0 + block, n)
        A[i0:i1, :i0] = A[:i0, i0:i1].T
        diagonal = A[i0:i1, i0:i1]
        lower = np.tril_indices(i1 - i0, -1)
        diagonal[lower] = diagonal.T[lower]


def one_hot_matrix(codes: NDArray[np.int32], n_columns: int) -> NDArray[np.float64]:
    """The 0/1 columns themselves (F order)."""
    n = codes.shape[0]
    out = np.zeros((n, n_columns), order="F")
    for b in range(codes.shape[1]):
        rows = np.flatnonzero(codes[:, b] >= 0)
        out[rows, codes[rows, b]] = 1.0
    return out


def one_hot_codes(X: sp.csr_matrix) -> NDArray[np.int32] | None:
    """The codes of a CSR matrix of 0/1 columns that fall into consecutive blocks with at most one
    non-zero per row each (one-hot blocks, whatever their origin), or None when X is not such a matrix
    or needs more than ``MAX_BLOCKS`` blocks. Blocks are grown greedily left to right: a column joins
    the current block unless a row has a non-zero in both."""
    n, m = X.shape
    if not 0 < m <= MAX_COLUMNS or X.nnz == 0 or not np.all(X.data == 1.0):
        return None
    csc = X.tocsc()
    csc.sum_duplicates()
    starts: list[int] = []
    taken = np.zeros(n, dtype=bool)
    for j in range(m):
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        if not starts or taken[rows].any():
            if len(starts) == MAX_BLOCKS:
                return None
            starts.append(j)
            taken[:] = False
        taken[rows] = True
    codes = np.full((n, len(starts)), -1, dtype=np.int32)
    bounds = [*starts, m]
    for b in range(len(starts)):
        for j in range(bounds[b], bounds[b + 1]):
            codes[csc.indices[csc.indptr[j] : csc.indptr[j + 1]], b] = j
    return codes
