"""``LogisticRegression.fit`` on dask arrays: the row blocks of X (with y's) are the partitions.

The same passes as a streamed ``train`` (``problem.py``, ``kernel.batch_sums``) on a design that is
already numbers: binary targets, L2 or elastic net, any width. Blocks are computed where each task runs
(a Dask cluster when a ``distributed.Client`` exists, else local threads), so X never has to fit in one
process.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._exceptions import ParameterError
from .._threads import numpy_owns_the_cores
from ..core.solvers import SolverResult
from ..sources import FramePartition
from .engines import DaskEngine, Engine, LocalEngine
from .kernel import Sums, batch_sums
from .problem import StreamedProblem

__all__ = ["fit_dask_arrays", "is_dask_array"]


def is_dask_array(value: Any) -> bool:
    return type(value).__module__.startswith("dask.") and hasattr(value, "to_delayed") and hasattr(value, "chunks")


def fit_dask_arrays(
    X: Any, y: Any, *, C: float, l1_ratio: float, tol: float, max_iter: int | None
) -> tuple[NDArray[Any], SolverResult, dict[str, str], int]:
    """(classes, the solver's result over [beta..., intercept], the solver's choice, d)."""
    import dask.array as da

    from .solve import SOLVERS, choose_solver

    if X.ndim != 2:
        raise ParameterError(f"X must be a 2-d dask array, got {X.ndim} dimension(s)")
    y = da.asarray(y)  # type: ignore[no-untyped-call]
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ParameterError(f"y must be a 1-d dask array of {X.shape[0]} labels, got shape {y.shape}")
    classes = np.unique(np.asarray(da.unique(y).compute()))
    if classes.size != 2:
        raise ParameterError(
            f"y has {classes.size} distinct label(s); a fit on dask arrays is binary (two classes): "
            "fit a multinomial model in memory"
        )
    X = X.rechunk({1: -1})
    y = y.rechunk((X.chunks[0],))
    blocks = [
        FramePartition(i, (xb, yb)) for i, (xb, yb) in enumerate(zip(X.to_delayed()[:, 0], y.to_delayed(), strict=True))
    ]
    d = int(X.shape[1])
    positive = classes[1]
    engine = _engine()
    try:

        def evaluate(theta: NDArray[np.float64], hessian: bool) -> Sums:
            sums: Sums = engine.fold(array_partition, blocks, positive, theta, hessian, start=Sums())
            return sums

        zero = evaluate(np.zeros(d + 1), False)
        rate = float(np.clip(zero.weighted_positives / zero.weight, 1e-12, 1 - 1e-12))
        theta0 = np.zeros(d + 1)
        theta0[-1] = math.log(rate / (1 - rate))
        name, reason = choose_solver(d + 1, l1_ratio)
        problem = StreamedProblem(
            evaluate,
            n_features=d,
            total_weight=zero.weight,
            n_rows=zero.rows,
            C=C,
            l1_ratio=l1_ratio,
            hessians=name != "lbfgs",
        )
        with numpy_owns_the_cores():
            result = SOLVERS[name](problem, theta0, tol=tol, max_iter=max_iter or (100 if name != "lbfgs" else 1000))
        result.counts["passes"] = problem.passes + 1
    finally:
        engine.close()
    return classes, result, {"name": name, "reason": f"dask arrays ({len(blocks)} row blocks): {reason}"}, d


def array_partition(partition: FramePartition, positive: Any, theta: NDArray[np.float64], hessian: bool) -> Sums:
    """One row block's sums (a worker task)."""
    X, y = partition.computed().data
    X = np.ascontiguousarray(X, dtype=np.float64)
    y01 = (np.asarray(y) == positive).astype(np.float64)
    return batch_sums(X, y01, np.ones(X.shape[0]), theta, hessian)


def _engine() -> Engine:
    try:
        from distributed import default_client

        return DaskEngine(client=default_client())  # type: ignore[no-untyped-call]  # used, never closed
    except (ImportError, ValueError):
        return LocalEngine()
