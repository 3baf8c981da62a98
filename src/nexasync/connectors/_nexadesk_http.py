"""HTTP to the NexaDesk Leads API: one httpx client, retries and request counting.

Retry policy (tenacity): a 429 is retried after its Retry-After; 5xx answers and
network failures back off exponentially with jitter. That is only safe for
requests the server may run twice without harm (reads, PATCH, DELETE). A POST
that failed *after it was sent* is raised as :class:`AmbiguousWrite`: the lead may
exist, and the caller must look before sending it again.
"""

from __future__ import annotations

import ssl
import threading
from collections import Counter
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential, wait_random

from nexasync.config import NexaDeskConfig
from nexasync.connectors._pacing import RateLimiter
from nexasync.metrics import count_request

LEADS_PATH = "/api/v1/external/leads"
log = structlog.get_logger("nexasync.nexadesk")

#: Failures where the request never reached the server: safe to resend any request.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class NexaDeskError(Exception):
    """A request that failed for good (after retries). Never carries credentials."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class AmbiguousWrite(NexaDeskError):
    """A write that may or may not have happened (5xx or a timeout after sending)."""

    def __init__(self, message: str, *, in_flight: bool, status: int | None = None) -> None:
        super().__init__(message, status=status, retryable=True)
        #: No answer came from the application itself (a timeout, a gateway's 502/504):
        #: the request may still be running there, so a search now proves nothing.
        self.in_flight = in_flight


class _Refused(Exception):
    """A 429 or 5xx answer, raised inside the retry loop."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = retry_after(response) if response.status_code == 429 else None


def backoff_wait(first: float, most: float) -> wait_base:
    """Exponential backoff from ``first`` seconds, capped at ``most``, plus jitter so
    parallel writers do not retry in step."""
    return wait_exponential(multiplier=first, max=most) + wait_random(0, first)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP date)."""
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_text(response: httpx.Response) -> str:
    """Best-effort message of an error answer: the body's shape is undocumented."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    error = body.get("error", body.get("message"))
    if isinstance(error, dict):
        error = error.get("message") or error.get("code")
    text = str(error or "")
    return text[:300] or f"HTTP {response.status_code}"


class Http:
    """The connector's transport; ``stats`` counts requests sent, by kind."""

    def __init__(
        self,
        config: NexaDeskConfig,
        *,
        backoff: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 120.0,
    ) -> None:
        assert config.api_key is not None  # the config validator guarantees it
        verify: ssl.SSLContext | bool = True
        if config.ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(config.ca_bundle))
        self.client = httpx.Client(
            base_url=config.base_url,
            headers={"Authorization": f"Bearer {config.api_key.get_secret_value()}"},
            verify=verify,
            timeout=config.timeout,
        )
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._attempts = config.max_retries + 1
        self._backoff = backoff_wait(backoff, backoff_max)
        self._max_retry_after = max_retry_after
        rate = config.max_requests_per_second
        self._pacer = RateLimiter(rate) if rate else None

    def close(self) -> None:
        self.client.close()

    def send(
        self,
        kind: str,
        method: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """The final answer (2xx or a 4xx other than 429), retrying what may be retried."""

        def should_retry(exc: BaseException) -> bool:
            if isinstance(exc, _Refused):
                if exc.response.status_code == 429:
                    return exc.retry_after is None or exc.retry_after <= self._max_retry_after
                return idempotent
            if isinstance(exc, _NOT_SENT):
                return True
            return idempotent and isinstance(exc, httpx.TransportError)

        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            before_sleep=lambda state: _log_retry(kind, state),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(kind, method, params, json)
        except _Refused as exc:
            status = exc.response.status_code
            message = f"NexaDesk {kind}: HTTP {status} ({error_text(exc.response)})"
            if status >= 500 and not idempotent:
                in_flight = status in (502, 504)
                raise AmbiguousWrite(message, status=status, in_flight=in_flight) from None
            raise NexaDeskError(message, status=status, retryable=True) from None
        except httpx.TransportError as exc:
            message = f"NexaDesk {kind}: {type(exc).__name__}"
            if not idempotent and not isinstance(exc, _NOT_SENT):
                raise AmbiguousWrite(message, in_flight=True) from None
            raise NexaDeskError(message, retryable=True) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _once(
        self, kind: str, method: str, params: dict[str, Any] | None, json: Any
    ) -> httpx.Response:
        if self._pacer is not None:
            self._pacer.acquire()  # every attempt, retries too: each one is a request
        with self._stats_lock:
            self.stats[kind] += 1
        try:
            response = self.client.request(method, LEADS_PATH, params=params, json=json)
        except httpx.TransportError:
            count_request("nexadesk", "error")
            raise
        count_request("nexadesk", response.status_code)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Refused(response)
        return response

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Refused) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))


def _log_retry(kind: str, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    reason = str(exc) if isinstance(exc, _Refused) else type(exc).__name__
    log.info("nexadesk retry", kind=kind, attempt=state.attempt_number, reason=reason)
