"""A worker's life around its requests: what starts with it (signal handlers, the alias watcher, the
drift measurement, the retries of labels waiting for their prediction, a frozen heap) and what stops
with it (the prediction log, flushed)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from .label_join import retry_pending
from .service import Service

__all__ = ["lifespan"]

_GC_YOUNG_THRESHOLD = 20_000


def lifespan(service: Service) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """The app's lifespan over ``service``."""

    @contextlib.asynccontextmanager
    async def run(_app: Any) -> AsyncIterator[None]:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not in the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, service.on_hangup)
            signal.signal(signal.SIGTERM, drain_then(service, signal.getsignal(signal.SIGTERM)))
        settle_heap()
        tasks = [
            asyncio.create_task(every(seconds, work))
            for seconds, work in (
                (service.settings.watch_seconds, reload_if_moved(service)),
                (service.settings.drift_seconds, service.measure_drift),
            )
            if seconds > 0
        ]
        tasks.append(asyncio.create_task(retry_labels(service)))
        yield
        for task in tasks:
            task.cancel()
        service.close()

    return run


def drain_then(service: Service, stop: Any) -> Callable[[int, Any], None]:
    """A SIGTERM handler in front of the server's own: readiness turns 503 at once (a load balancer
    stops sending), requests keep being served for ``drain_seconds``, then the server's handler
    stops accepting, finishes the requests in flight and exits."""
    loop = asyncio.get_running_loop()

    def on_term(sig: int, frame: Any) -> None:
        if service.draining:
            return
        service.drain()
        if callable(stop):
            loop.call_soon_threadsafe(loop.call_later, service.settings.drain_seconds, stop, sig, frame)

    return on_term


def reload_if_moved(service: Service) -> Callable[[], None]:
    def check() -> None:
        if service.alias_moved():
            service.reload()

    return check


async def every(seconds: float, work: Callable[[], None]) -> None:
    """``work`` on a thread every ``seconds``, for as long as the server runs."""
    while True:
        await asyncio.sleep(seconds)
        with contextlib.suppress(Exception):  # a registry hiccup or odd traffic must not stop the loop
            await asyncio.to_thread(work)


async def retry_labels(service: Service, seconds: float = 1.0) -> None:
    """Every ``seconds``, while labels wait for their prediction: read the log's new files (on a
    thread), then join what they hold (on the loop, as a request's labels are)."""
    while True:
        await asyncio.sleep(seconds)
        if service.logged is None or not len(service.pending_labels):
            continue
        with contextlib.suppress(Exception):  # a log file removed meanwhile must not stop the loop
            await asyncio.to_thread(service.logged.refresh)
            retry_pending(service)


def settle_heap() -> None:
    """Freeze what the process holds for good, and make young collections rarer."""
    # Everything loaded so far (numpy, scipy, pyarrow, FastAPI, the models: about a million objects)
    # lives as long as the process. Frozen, the cyclic collector stops walking it: a full collection
    # over it took tens of milliseconds, paid by whichever request was in flight (p99 50 ms -> ~5 ms).
    # The modules the background tasks import on first use are imported first, or they would land
    # outside the frozen part (scipy.stats alone: full collections of 70-85 ms, every few seconds).
    from ..monitor import drift_report  # noqa: F401
    from ..monitor.labels import store_labels  # noqa: F401
    from ..registry import Registry  # noqa: F401

    gc.collect()
    gc.freeze()
    # A 1,000-row request allocates a few thousand containers while its rows are alive; at the
    # default threshold (700) that started 3-4 young collections per request, each walking those
    # rows (about 1 ms of a 1,000-row request's 5-10). Garbage here is freed by reference counting
    # as requests end, so collecting 30x less often costs no memory to speak of.
    gc.set_threshold(_GC_YOUNG_THRESHOLD, 10, 10)
    # The prediction log's writer and the drift measurement run in threads; a thread that wants the
    # GIL waits up to the switch interval (5 ms by default) for it, and the event loop answering the
    # requests is such a thread. At 1 ms the background work costs a request at most that.
    sys.setswitchinterval(0.001)
