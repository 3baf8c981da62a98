"""Stopping on SIGTERM / SIGINT: first gracefully, then at once.

The first signal sets an event that running cycles watch: each finishes the batch
in flight, stores its outcome and returns. A second signal (an impatient operator,
or an orchestrator that gave up waiting) exits at once; that is safe because a
cycle is crash-safe, and the next start recovers what was in flight.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

import structlog

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopOnSignal:
    """Within the ``with`` body (on the main thread), SIGTERM and SIGINT set ``event``."""

    def __init__(self, event: threading.Event | None = None) -> None:
        self.event = event or threading.Event()
        self._previous: dict[int, Any] = {}
        self._log = structlog.get_logger("nexasync.stop")

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.event.is_set():
            self._log.warning("second signal: exiting now; the next start recovers", signal=name)
            sys.stderr.flush()
            # Not sys.exit: worker threads in a cycle would be waited for.
            os._exit(128 + signum)
        self._log.info(
            "stopping: running cycles finish their current batch; signal again to exit now",
            signal=name,
        )
        self.event.set()
