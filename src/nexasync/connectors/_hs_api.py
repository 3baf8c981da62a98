"""The HubSpot calls the connector makes, through hubspot-api-client, each with
retries, pacing and a count by kind.

One :class:`HubSpotApi` builds the client once (the generated API objects make a
connection pool each, so they are kept rather than looked up per call), pointed at
``base_url`` with the private-app token and, when set, the CA bundle. Answers are
read as JSON (``_preload_content=False``): a page of 200 contacts is parsed in one
go instead of through the generated models, and the status (201 vs 207) stays
visible. Transient failures (5xx, connection errors, timeouts) back off
exponentially with jitter; a 429 waits what HubSpot asks (see ``_hs_rate``); a
refused input is not retried.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import urllib3
from hubspot import HubSpot
from hubspot.crm.objects.exceptions import ApiException
from hubspot.crm.owners.exceptions import ApiException as OwnersApiException
from hubspot.crm.properties.exceptions import ApiException as PropertiesApiException
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from nexasync._config_hubspot import HubSpotConfig
from nexasync.connectors._hs_rate import SECONDLY_WINDOW, RateLimiter, rate_limit_wait
from nexasync.metrics import count_request

PAGE_SIZE = 100
SEARCH_PAGE_SIZE = 200
#: HubSpot's batch endpoints take up to 100 inputs.
BATCH_SIZE = 100


class HubSpotApiError(RuntimeError):
    """A call that failed after its retries. ``category`` is HubSpot's error category
    (``VALIDATION_ERROR``, ``CONFLICT``, ``OBJECT_NOT_FOUND``, ``RATE_LIMITS``, ...)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        body: Mapping[str, Any] | None = None,
        transient: bool = False,
        lost: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.body: Mapping[str, Any] = body or {}
        #: Worth retrying right away (after a wait): 5xx, 429, connection trouble.
        self.transient = transient
        #: The request may have been applied: no answer came back (timeout, 5xx, reset).
        self.lost = lost
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether a later cycle may succeed with the same request."""
        return self.transient or self.status == 429

    @property
    def detail(self) -> str:
        """What HubSpot said is wrong: each invalid property when it lists them."""
        return describe(self.body, self.status)


def describe(body: Mapping[str, Any], status: int | None = None) -> str:
    """An error body (or one entry of a batch answer's ``errors``) in one line: each
    invalid property with HubSpot's reason when it lists them."""
    category = body.get("category") or body.get("errorType") or ""
    head = " ".join(str(p) for p in ("HubSpot", status, category) if p) + ": "
    parts = []
    for error in _property_errors(body):
        where = f"{error['name']}: " if error.get("name") else ""
        parts.append(f"{where}{error.get('message', '')}")
    return head + ("; ".join(parts) if parts else str(body.get("message") or "no message"))


def _property_errors(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """HubSpot lists invalid properties in ``errors[]``, and always as a JSON array in
    the message ("Property values were not valid: [...]")."""
    found = []
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            names = (error.get("context") or {}).get("propertyName") or []
            found.append({"name": ", ".join(map(str, names)), "message": error.get("message")})
    if found:
        return found
    message = str(body.get("message") or "")
    start = message.find("[")
    if not message.startswith("Property values were not valid") or start < 0:
        return []
    try:
        details = json.loads(message[start:])
    except ValueError:
        return []
    return [{"name": d.get("name"), "message": d.get("message")}
            for d in details if isinstance(d, dict)]


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        lowered = {str(k).lower(): v for k, v in dict(headers).items()}
        value = lowered.get(name.lower())
    return None if value is None else str(value)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


#: Each generated API module of the client raises its own ApiException class (same
#: attributes): every one we call must become a HubSpotApiError, not leak out raw.
API_EXCEPTIONS = (ApiException, OwnersApiException, PropertiesApiException)


def api_error(exc: ApiException, *, window: float | None = None) -> HubSpotApiError:
    """The :class:`HubSpotApiError` of a client exception (its message never carries
    request headers, so never the token). ``window``: how long a 429 that names no
    limit is waited out (the search limit is per second)."""
    status = int(exc.status or 0)
    raw = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {"message": str(raw)[:300]}
    if not isinstance(body, dict):
        body = {"message": str(body)[:300]}
    category = body.get("category") or body.get("errorType")
    message = body.get("message") or exc.reason or "no message"
    retry_after = None
    if status == 429:
        retry_after = _number(_header(exc.headers, "Retry-After"))
        if retry_after is None and window is not None and not body.get("policyName"):
            retry_after = window
        if retry_after is None:
            retry_after = rate_limit_wait(
                None, body.get("policyName"),
                _number(_header(exc.headers, "X-HubSpot-RateLimit-Interval-Milliseconds")),
            )
    # A daily limit will not lift in seconds: the next cycle may try again.
    daily = status == 429 and str(body.get("policyName") or "").upper() == "DAILY"
    return HubSpotApiError(
        describe({**body, "message": message}, status or None),
        status=status or None, category=category, body=body,
        transient=(status >= 500 or status == 429) and not daily,
        lost=status >= 500, retry_after=retry_after,
    )


def connection_error(exc: urllib3.exceptions.HTTPError) -> HubSpotApiError:
    # A connection that never opened carried no request; anything later may have.
    never_sent = isinstance(exc, (urllib3.exceptions.NewConnectionError,
                                  urllib3.exceptions.ConnectTimeoutError))
    return HubSpotApiError(
        f"HubSpot unreachable: {type(exc).__name__}: {exc}"[:400],
        transient=True, lost=not never_sent,
    )


class HubSpotApi:
    def __init__(
        self,
        config: HubSpotConfig,
        *,
        backoff_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.object_type = config.object_type
        self.stats: Counter[str] = Counter()
        #: HubSpot's time (its ``Date`` header, to the second) when it answered last: how
        #: long ago a write happened, measured on HubSpot's clock rather than ours.
        self.server_time: datetime | None = None
        self._backoff = wait_exponential(multiplier=backoff_seconds, max=30 * backoff_seconds) \
            + wait_random(0, backoff_seconds)
        self._sleep = sleep
        self._monotonic = monotonic
        self.search_limiter = RateLimiter(config.search_rate, clock=monotonic, sleep=sleep)
        #: Paces every other request to the app's rolling limit as HubSpot states it on
        #: each answer (``X-HubSpot-RateLimit-Max`` per ``-Interval-Milliseconds``), so a
        #: run of batch writes keeps under it instead of meeting a 429 and waiting out the
        #: window. None until an answer has said what the limit is.
        self.window_limiter: RateLimiter | None = None
        self._window: tuple[int, int] | None = None
        assert config.access_token is not None  # the config refuses a section without one
        options: dict[str, Any] = {
            "access_token": config.access_token.get_secret_value(),
            "host": config.base_url.rstrip("/"),
            # Retries are ours (tenacity), so a write is never re-sent behind our back.
            "retry": False,
        }
        if config.ca_bundle is not None:
            options["ssl_ca_cert"] = str(config.ca_bundle)
        crm = HubSpot(**options).crm
        self._basic = crm.objects.basic_api
        self._batch = crm.objects.batch_api
        self._search = crm.objects.search_api
        self._owners = crm.owners.owners_api
        self._properties = crm.properties.core_api
        self._apis = [self._basic, self._batch, self._search, self._owners, self._properties]

    def close(self) -> None:
        for api in self._apis:
            api.api_client.rest_client.pool_manager.clear()

    # -- calling -----------------------------------------------------------------------
    def call(
        self,
        kind: str,
        fn: Callable[..., Any],
        *,
        retry: bool = True,
        limiter: RateLimiter | None = None,
    ) -> tuple[int, Any]:
        """``fn(**request_options)`` -> (status, parsed JSON body), retried when transient;
        failures as :class:`HubSpotApiError`. Every request sent counts in ``stats``."""

        def once() -> tuple[int, Any]:
            pacer = limiter or self.window_limiter
            if pacer is not None:
                pacer.acquire()
            self.stats[kind] += 1
            try:
                response = fn(_preload_content=False, _request_timeout=self.config.timeout)
            except API_EXCEPTIONS as exc:
                count_request("hubspot", exc.status or "error")
                raise api_error(exc, window=SECONDLY_WINDOW if limiter else None) from None
            except AttributeError as exc:
                # The client fails decoding the empty body of its own TLS error (status 0).
                if isinstance(exc.__context__, API_EXCEPTIONS):
                    count_request("hubspot", "error")
                    raise api_error(exc.__context__) from None
                raise
            except urllib3.exceptions.HTTPError as exc:
                count_request("hubspot", "error")
                raise connection_error(exc) from None
            count_request("hubspot", response.status)
            self._note_answer(getattr(response, "headers", None))
            data = response.data
            return response.status, (json.loads(data) if data else None)

        if not retry:
            return once()
        for attempt in self.retrying():
            with attempt:
                return once()
        raise AssertionError("unreachable")  # pragma: no cover

    def _note_answer(self, headers: Any) -> None:
        self._note_date(headers)
        most = _header(headers, "X-HubSpot-RateLimit-Max")
        interval = _header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        if not (most and most.isdigit() and interval and interval.isdigit()):
            return
        window = (int(most), int(interval))
        if window != self._window and window[0] > 0 and window[1] > 0:
            self._window = window
            limiter = RateLimiter(window[0] * 1000 / window[1], clock=self._monotonic,
                                  sleep=self._sleep)
            limiter.acquire()  # the request just answered counts, or the next two pile up
            self.window_limiter = limiter

    def _note_date(self, headers: Any) -> None:
        text = _header(headers, "Date")
        try:
            when = parsedate_to_datetime(text) if text else None
        except (TypeError, ValueError):
            when = None
        if when is not None:
            self.server_time = when if when.tzinfo else when.replace(tzinfo=timezone.utc)

    def retrying(self) -> Retrying:
        """The retry policy: transient :class:`HubSpotApiError` only, ``max_retries``
        times, waiting what a 429 asks or backing off exponentially with jitter."""
        return Retrying(
            stop=stop_after_attempt(self.config.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(
                lambda exc: isinstance(exc, HubSpotApiError) and exc.transient),
            sleep=self._sleep,
            reraise=True,
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, HubSpotApiError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))

    # -- the calls ---------------------------------------------------------------------
    def search(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _, answer = self.call(
            "search",
            lambda **kw: self._search.do_search(self.object_type, dict(body), **kw),
            limiter=self.search_limiter,
        )
        return answer or {}

    def list_page(
        self, *, archived: bool, properties: list[str], after: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": PAGE_SIZE, "archived": archived,
                                  "properties": properties}
        if after is not None:
            params["after"] = after
        _, answer = self.call(
            "list_archived" if archived else "list",
            lambda **kw: self._basic.get_page(self.object_type, **params, **kw),
        )
        return answer or {}

    def batch(
        self, op: str, body: Mapping[str, Any], *, retry: bool = True
    ) -> tuple[int, dict[str, Any]]:
        """A batch call (``create``, ``update``, ``archive``, ``read``): (status, answer)."""
        method = getattr(self._batch, op)
        status, answer = self.call(
            f"batch_{op}", lambda **kw: method(self.object_type, dict(body), **kw), retry=retry
        )
        return status, answer or {}

    def owners_page(self, after: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": PAGE_SIZE, "archived": False}
        if after is not None:
            params["after"] = after
        _, answer = self.call("owners", lambda **kw: self._owners.get_page(**params, **kw))
        return answer or {}

    def get_property(self, name: str) -> dict[str, Any]:
        _, answer = self.call(
            "properties",
            lambda **kw: self._properties.get_by_name(self.object_type, name, **kw),
        )
        return answer or {}
