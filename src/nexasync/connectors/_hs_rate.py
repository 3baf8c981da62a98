"""Pacing for HubSpot's request limits, and how long to wait after a 429.

HubSpot limits the search endpoints per second per account (about five) on top of
the app's rolling ten-second limit. The search limiter keeps to the configured rate
before HubSpot has to refuse; a 429 that comes anyway (another app on the account,
the ten-second limit) is waited out: ``Retry-After`` when HubSpot sends it, else
the limit's own interval.
"""

from __future__ import annotations

from nexasync.connectors._pacing import RateLimiter

#: The app-wide limit's window, used when a 429 says nothing about when to retry.
TEN_SECOND_WINDOW = 10.0
SECONDLY_WINDOW = 1.0


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


__all__ = ["RateLimiter", "rate_limit_wait"]
