"""HubSpot's rate limits for a private app, measured on the emulator's clock so a test
can drive them without waiting.

Three budgets: a rolling window of ``rate_limit`` requests per ``rate_window`` seconds
(policy TEN_SECONDLY_ROLLING), a daily budget that resets at midnight, and the search
endpoints' own ``search_rate`` requests per second. Search requests are exempt from the
rolling window (HubSpot's spec marks them so) and their answers carry only the daily
headers, as recorded search responses do.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import date, datetime, timezone
from email.utils import format_datetime

from nexasync.sandbox._hs_errors import HsError, daily_limited, search_limited, ten_secondly_limited


class RateLimits:
    def __init__(self, clock: Callable[[], datetime], *, rate_limit: int, rate_window: float,
                 search_rate: int, daily_limit: int = 500_000, search_window: float = 1.0) -> None:
        self.clock = clock
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.search_rate = search_rate
        self.search_window = search_window
        self.daily_limit = daily_limit
        self.daily_used = 0
        self._day: date | None = None
        self._general: deque[float] = deque()
        self._search: deque[float] = deque()

    def reset(self) -> None:
        self.daily_used = 0
        self._day = None
        self._general.clear()
        self._search.clear()

    def _now(self) -> float:
        return self.clock().timestamp()

    @staticmethod
    def _prune(hits: deque[float], now: float, window: float) -> None:
        while hits and hits[0] <= now - window:
            hits.popleft()

    def admit(self, search: bool) -> None:
        """Count one request, or raise the 429 HubSpot answers when a budget is spent
        (a refused request spends nothing)."""
        now = self._now()
        today = self.clock().date()
        if today != self._day:
            self._day, self.daily_used = today, 0
        if self.daily_used >= self.daily_limit:
            raise self._with_headers(daily_limited(), search)
        if search:
            self._prune(self._search, now, self.search_window)
            if len(self._search) >= self.search_rate:
                raise self._with_headers(search_limited(), search)
            self._search.append(now)
        else:
            self._prune(self._general, now, self.rate_window)
            if len(self._general) >= self.rate_limit:
                raise self._with_headers(ten_secondly_limited(), search)
            self._general.append(now)
        self.daily_used += 1

    def _with_headers(self, error: HsError, search: bool) -> HsError:
        error.headers.update(self.headers(search))
        return error

    def headers(self, search: bool) -> dict[str, str]:
        # Every answer carries the server's time (RFC 9110 Date), on the emulator's clock.
        out = {"Date": format_datetime(self.clock().astimezone(timezone.utc), usegmt=True),
               "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
               "X-HubSpot-RateLimit-Daily-Remaining":
                   str(max(0, self.daily_limit - self.daily_used))}
        if not search:
            self._prune(self._general, self._now(), self.rate_window)
            out.update({
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.rate_window * 1000)),
                "X-HubSpot-RateLimit-Max": str(self.rate_limit),
                "X-HubSpot-RateLimit-Remaining": str(max(0, self.rate_limit
                                                         - len(self._general))),
            })
        return out
