"""The parent of ``oddsline serve --workers N``: uvicorn's process supervisor, except that SIGHUP
reloads the models inside every worker instead of replacing the workers, and a worker that dies is
marked dead for the metrics.

The gauges of the workers live in files, one per process; the "live" ones (requests in flight, drift,
draining, the served version) must stop counting a process once it is gone, which prometheus_client
leaves to the supervisor (``mark_process_dead``). Without it a worker killed with requests in flight
kept them in ``oddsline_requests_in_flight`` for good.

uvicorn answers SIGHUP by starting fresh processes. Those load the models as a start does: a file
that fails verification stops the replacement from starting, and no reload is recorded
(``oddsline_model_loads_total`` counts reloads, which a fresh start is not). Forwarding the signal
lets each worker run the same reload as /admin/reload and a moved alias: verified against the
trusted keys, counted as loaded or rejected, the old version serving on if the new one is refused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal

from prometheus_client.multiprocess import mark_process_dead
from uvicorn.supervisors import Multiprocess

__all__ = ["SUPERVISOR_ENV", "ReloadingMultiprocess"]

# Set for the workers: the supervisor's pid, which /admin/reload signals to reload the other workers.
SUPERVISOR_ENV = "ODDSLINE_SUPERVISOR_PID"

_log = logging.getLogger("oddsline.serve")


class ReloadingMultiprocess(Multiprocess):
    def keep_subprocess_alive(self) -> None:
        before = self._pids()
        super().keep_subprocess_alive()  # replaces a dead or hung worker
        self._forget(before - self._pids())

    def handle_ttou(self) -> None:  # one worker fewer
        before = self._pids()
        super().handle_ttou()
        self._forget(before - self._pids())

    def _pids(self) -> set[int]:
        return {worker.process.pid for worker in self.processes if worker.process.pid is not None}

    @staticmethod
    def _forget(pids: set[int]) -> None:
        if pids and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            for pid in pids:
                mark_process_dead(pid)  # type: ignore[no-untyped-call]

    def handle_hup(self) -> None:
        for worker in self.processes:
            pid = worker.process.pid
            if pid is not None and worker.process.is_alive():
                with contextlib.suppress(ProcessLookupError):  # it died meanwhile; the supervisor replaces it
                    os.kill(pid, signal.SIGHUP)
        _log.warning("SIGHUP: reloading the models in %d worker(s)", len(self.processes))
