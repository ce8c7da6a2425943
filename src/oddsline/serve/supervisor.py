"""The parent of ``oddsline serve --workers N``: uvicorn's process supervisor, except that SIGHUP
reloads the models inside every worker instead of replacing the workers.

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

from uvicorn.supervisors import Multiprocess

__all__ = ["ReloadingMultiprocess"]

_log = logging.getLogger("oddsline.serve")


class ReloadingMultiprocess(Multiprocess):
    def handle_hup(self) -> None:
        for worker in self.processes:
            pid = worker.process.pid
            if pid is not None and worker.process.is_alive():
                with contextlib.suppress(ProcessLookupError):  # it died meanwhile; the supervisor replaces it
                    os.kill(pid, signal.SIGHUP)
        _log.warning("SIGHUP: reloading the models in %d worker(s)", len(self.processes))
