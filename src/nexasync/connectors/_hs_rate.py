"""Pacing for HubSpot's request limits, and how long to wait after a 429.

HubSpot limits the search endpoints per second per account (about five) on top of
the app's rolling ten-second limit. The search limiter keeps to the configured rate
before HubSpot has to refuse; a 429 that comes anyway (another app on the account,
the ten-second limit) is waited out: ``Retry-After`` when HubSpot sends it, else
the limit's own interval.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

#: The app-wide limit's window, used when a 429 says nothing about when to retry.
TEN_SECOND_WINDOW = 10.0
SECONDLY_WINDOW = 1.0
#: Spacing kept beyond the window, for HubSpot's clock not ticking exactly with ours.
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


def rate_limit_wait(
    retry_after: float | None, policy: str | None, interval_ms: float | None
) -> float:
    """Seconds to wait after a 429: ``Retry-After`` when given, else the window of the
    limit that was hit (HubSpot names it in ``policyName``; the ten-second limit also
    reports its interval in a header)."""
    if retry_after is not None:
        return max(0.0, retry_after)
    if policy and policy.upper() == "SECONDLY":
        return SECONDLY_WINDOW
    if interval_ms:
        return interval_ms / 1000.0
    return TEN_SECOND_WINDOW
