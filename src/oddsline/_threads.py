"""Keep a second BLAS from fighting numpy's for the cores.

numpy and scipy wheels each bundle their own OpenBLAS, each with a thread per core. After every numpy
GEMM/GEMV numpy's threads spin a while waiting for more work; a scipy BLAS call in that window (the
L-BFGS-B update, a triangular solve) starts its own threads on cores that are busy spinning. Measured
on 2 cores: a 1000 x 1000 Cholesky after a GEMM took 117 ms instead of 10, and scipy's L-BFGS-B spent
0.24 s instead of 0.016 s on 26 iterations. The scipy calls oddsline makes in a solve are small
(level-1/2 BLAS, p x p factorisations), so a single thread for every BLAS but numpy's costs nothing.
Nothing changes when one BLAS serves both (a shared system or conda OpenBLAS/MKL).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["numpy_owns_the_cores"]

_controller: Any = None


@contextlib.contextmanager
def numpy_owns_the_cores() -> Iterator[None]:
    """Within the block, every BLAS library other than numpy's runs single-threaded."""
    others = _other_blas()
    if others is None:
        yield
        return
    with others.limit(limits=1):
        yield


def _other_blas() -> Any:
    global _controller
    from threadpoolctl import ThreadpoolController  # lazily: it inspects the loaded libraries

    if _controller is None:
        _controller = ThreadpoolController()
    blas = [lib for lib in _controller.lib_controllers if lib.user_api == "blas"]
    numpy_own = [lib for lib in blas if "numpy" in lib.filepath]
    others = [lib for lib in blas if lib not in numpy_own]
    if not numpy_own or not others:
        return None
    return _controller.select(filepath=[lib.filepath for lib in others])
