"""Keeping to an API's request rate before it has to refuse: a sliding-window limiter
shared by the threads of one connector."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

#: Spacing kept beyond the window, for the server's clock not ticking exactly with ours.
MARGIN = 0.02
_EPSILON = 1e-6


class RateLimiter:
    """At most ``rate`` calls in any one-second window (a sliding window over the
    start times of the last calls), measured on a monotonic clock.

    ``clock`` and ``sleep`` are injectable so tests run on a fake timeline.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.calls = max(1, math.floor(rate))
        # A rate under one per second: one call per 1/rate seconds.
        self.period = max(1.0, self.calls / rate) + MARGIN
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait until one more call fits, and count it as started now."""
        with self._lock:
            while True:
                now = self._clock()
                # A start counts as gone within a hair of its period ending: the sum
                # of floats after a sleep may fall just short of it, forever.
                while self._starts and self._starts[0] + self.period - now <= _EPSILON:
                    self._starts.popleft()
                if len(self._starts) < self.calls:
                    self._starts.append(now)
                    return
                self._sleep(self._starts[0] + self.period - now)


__all__ = ["RateLimiter"]
