"""Per-request timeouts kept by one watcher task, not by a timer per request.

``asyncio.timeout`` schedules and cancels a timer for every request: about 20 us a request here
(Python-level timer handles in a heap that holds every cancelled timer until it reaches the top), a
fifth of what answering one row costs. Here a request's task is put in a dict with its deadline, and
one task per event loop wakes a few times a timeout (at most every 0.25 s) to cancel the requests that
are past theirs. A request so cancelled is marked; the gate tells its cancellation from any other
(a shutdown, say) by that mark, takes the cancellation back and answers 504.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["Deadlines"]


class Deadlines:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._deadlines: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._watcher_loop: asyncio.AbstractEventLoop | None = None

    def enter(self, task: asyncio.Task[object], started: float) -> None:
        """Watch ``task``, a request that started at ``started`` (time.perf_counter())."""
        self._deadlines[task] = started + self.timeout
        loop = task.get_loop()
        if self._watcher_loop is not loop or self._watcher is None or self._watcher.done():
            self._watcher_loop, self._watcher = loop, loop.create_task(self._watch())

    def leave(self, task: asyncio.Task[object]) -> None:
        self._deadlines.pop(task, None)
        self._expired.discard(task)

    def expired(self, task: asyncio.Task[object]) -> bool:
        """Whether the watcher cancelled ``task`` for its deadline."""
        return task in self._expired

    async def _watch(self) -> None:
        interval = min(self.timeout / 4, 0.25)
        while True:
            await asyncio.sleep(interval)
            now = time.perf_counter()
            for task, deadline in list(self._deadlines.items()):
                if now >= deadline and task not in self._expired and not task.done():
                    self._expired.add(task)
                    task.cancel()
