"""Where partition tasks run: threads of this process (``local``) or a Dask cluster (``dask``).

An engine maps a task ``function(partition, *arguments)`` over the source's partitions and returns the
results in partition order, so merging them gives the same bits however the tasks were scheduled.
Dask is an optional extra (``pip install oddsline[dask]``), imported only when asked for; without a
scheduler address a ``LocalCluster`` sized to this machine is started (one single-threaded worker
process per core) and closed with the engine. Dask retries a task whose worker died; the tasks are
pure functions of their partition, so a retry gives the same result.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from threadpoolctl import threadpool_limits

from .._exceptions import ParameterError
from ..sources import FramePartition

__all__ = ["ENGINES", "DaskEngine", "Engine", "LocalEngine", "local_cluster", "make_engine"]

ENGINES = ("local", "dask")


class Engine:
    name = "engine"
    workers = 1

    def map(self, function: Callable[..., Any], partitions: Sequence[Any], *arguments: Any) -> list[Any]:
        raise NotImplementedError

    def fold(
        self,
        function: Callable[..., Any],
        partitions: Sequence[Any],
        *arguments: Any,
        start: Any,
    ) -> Any:
        """``start.merge(r0).merge(r1)...`` over the results in partition order, each merged as soon as its
        turn comes, so the driver never holds every partition's result at once."""
        out = start
        for result in self.results(function, partitions, *arguments):
            out = out.merge(result)
        return out

    def results(self, function: Callable[..., Any], partitions: Sequence[Any], *arguments: Any) -> Iterator[Any]:
        yield from self.map(function, partitions, *arguments)

    def close(self) -> None:
        return None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalEngine(Engine):
    """A few threads of this process; each runs its BLAS on one core, so threads do not oversubscribe."""

    name = "local"

    def __init__(self, threads: int | None = None) -> None:
        self.workers = max(1, threads or min(4, os.cpu_count() or 1))

    def map(self, function: Callable[..., Any], partitions: Sequence[Any], *arguments: Any) -> list[Any]:
        if self.workers == 1 or len(partitions) <= 1:
            return [function(p, *arguments) for p in partitions]
        return list(self.results(function, partitions, *arguments))

    def results(self, function: Callable[..., Any], partitions: Sequence[Any], *arguments: Any) -> Iterator[Any]:
        if self.workers == 1 or len(partitions) <= 1:
            for p in partitions:
                yield function(p, *arguments)
            return
        # At most 2 tasks per thread in flight: a finished result waits only for the ones before it.
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(self.workers) as pool:
            pending: deque[Future[Any]] = deque()
            for p in partitions:
                pending.append(pool.submit(function, p, *arguments))
                if len(pending) >= 2 * self.workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()


class DaskEngine(Engine):
    """Tasks on a dask.distributed cluster: the one at ``scheduler`` or a LocalCluster of this machine."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, *, client: Any = None, workers: int | None = None) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ParameterError(
                "--engine dask needs Dask's distributed scheduler: pip install 'oddsline[dask]'"
            ) from None
        self._cluster = None
        self._environ = dict(os.environ)  # put back on close: a restarted worker's nanny sets it again
        if client is not None:
            self.client = client
            self._own_client = False
        else:
            if scheduler is None:
                n = workers or os.cpu_count() or 1
                self._cluster = local_cluster(n)
                scheduler = self._cluster.scheduler_address
            try:
                self.client = Client(scheduler, timeout="10s")  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError) as exc:
                self.close()
                raise ParameterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
            self._own_client = True
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def map(self, function: Callable[..., Any], partitions: Sequence[Any], *arguments: Any) -> list[Any]:
        return list(self.results(function, partitions, *arguments))

    def results(self, function: Callable[..., Any], partitions: Sequence[Any], *arguments: Any) -> Iterator[Any]:
        if partitions and isinstance(partitions[0], FramePartition):
            yield from self._frame_results(function, partitions, *arguments)
            return
        shared = [self.client.scatter(a, broadcast=True, hash=False) if _large(a) else a for a in arguments]
        futures = [self.client.submit(function, p, *shared, pure=False, retries=3) for p in partitions]
        for future in futures:  # in partition order; each result is released once fetched
            yield future.result()
            future.release()

    def _frame_results(self, function: Callable[..., Any], partitions: Sequence[Any], *arguments: Any) -> Iterator[Any]:
        """Tasks on a Dask DataFrame's partitions: each computes its partition on the worker first."""
        from dask.delayed import delayed

        tasks = [delayed(_on_frame, pure=False)(function, p.index, p.data, *arguments) for p in partitions]
        futures = self.client.compute(tasks, retries=3)
        for future in futures:
            yield future.result()
            future.release()

    def close(self) -> None:
        if getattr(self, "_own_client", False):
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        if hasattr(self, "_environ"):
            os.environ.clear()
            os.environ.update(self._environ)


def _on_frame(function: Callable[..., Any], index: int, frame: Any, *arguments: Any) -> Any:
    return function(FramePartition(index, frame), *arguments)


def local_cluster(n_workers: int, **options: Any) -> Any:
    """A ``distributed.LocalCluster`` of single-threaded worker processes, started without changing this
    process's environment: a nanny sets OMP/OPENBLAS/MKL_NUM_THREADS=1 and PYTHONHASHSEED in
    ``os.environ`` before it spawns a worker, and every later subprocess of the caller would inherit
    them. (A nanny that restarts a dead worker sets them again; ``DaskEngine.close`` restores them.)"""
    import dask
    from distributed import LocalCluster

    saved = dict(os.environ)
    # Dask's nannies set MALLOC_TRIM_THRESHOLD_, which also fixes glibc's mmap threshold: every
    # temporary array of a batch then comes from mmap and faults its pages in anew, and a Newton pass
    # took about 30% more CPU in the workers than in this process's threads. The workers we start keep
    # glibc's defaults (the variable only makes freed memory visible to Dask's monitor sooner).
    environ = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    environ = {k: v for k, v in environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    try:
        # No dashboard; the scheduler's HTTP server (health, /metrics) starts anyway, and on a free port
        # rather than 8787, which a second cluster on the machine would find taken (a warning per start).
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            return LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": ":0"},
                **options,
            )
    finally:
        os.environ.clear()
        os.environ.update(saved)


def make_engine(name: str = "local", scheduler: str | None = None, workers: int | None = None) -> Engine:
    if name == "local":
        if scheduler is not None:
            raise ParameterError("--scheduler is for --engine dask")
        return LocalEngine(workers)
    if name == "dask":
        return DaskEngine(scheduler, workers=workers)
    raise ParameterError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}")


def _large(value: Any) -> bool:
    """Arguments worth sending once per worker rather than once per task (fitted features)."""
    return hasattr(value, "columns") and hasattr(value, "n_design")
