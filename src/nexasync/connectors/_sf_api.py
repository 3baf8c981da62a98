"""The Salesforce REST calls the connector makes, each with retries and re-auth.

One :class:`SalesforceApi` owns the HTTP session (CA bundle, timeout), the
simple-salesforce client (logged in lazily, renewed once when a session expires
mid-call), a count of requests by kind, and the retry policy: transient failures
(5xx, 429, connection errors, timeouts) back off exponentially with jitter; a
refused record, a malformed request and the daily API limit are not retried.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
)
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from nexasync.config import SalesforceConfig
from nexasync.connectors._sf_auth import (
    SalesforceAuthError,
    build_client,
    can_reauthenticate,
    login_failed,
    mount_login_route,
)
from nexasync.metrics import count_request

T = TypeVar("T")

#: Error codes that say "try again later" rather than "this record is wrong".
RETRYABLE_CODES = frozenset(
    {"REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "QUERY_TIMEOUT"}
)


class SalesforceApiError(RuntimeError):
    """A call that failed after its retries; ``code`` is Salesforce's errorCode."""

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None,
        retryable: bool = False, lost: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retryable = retryable
        #: The request may have been applied: no answer came back (timeout, 5xx, reset).
        self.lost = lost


def soql_quote(value: str) -> str:
    """A SOQL string literal."""
    escaped = (
        value.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
        .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
        .replace("\b", "\\b").replace("\f", "\\f")
    )
    return f"'{escaped}'"


def soql_datetime(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def error_detail(content: Any) -> tuple[str | None, str]:
    """(errorCode, message) of a Salesforce error body."""
    first = content[0] if isinstance(content, list) and content else content
    if isinstance(first, dict):
        code = first.get("errorCode") or first.get("statusCode") or first.get("error")
        message = first.get("message") or first.get("error_description") or str(code)
        return (str(code) if code else None), str(message)
    return None, str(content)[:300]


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return True
    if isinstance(exc, SalesforceAuthError):
        return exc.transient
    if not isinstance(exc, SalesforceError):
        return False
    # Out of daily API calls: waiting seconds will not help; the next cycle may.
    if error_detail(exc.content)[0] == "REQUEST_LIMIT_EXCEEDED":
        return False
    return exc.status >= 500 or exc.status == 429


def classify(method: str, url: str) -> str:
    """The kind of a request, named as the sandbox emulator counts them."""
    path = urlsplit(url).path.rstrip("/")
    if "/services/Soap/u/" in path:
        return "login"
    if path.endswith("/services/oauth2/token"):
        return "token"
    for name in ("queryAll", "query"):
        marker = f"/{name}"
        if marker in path:
            return name if path.endswith(marker) else "query_more"
    if "/composite/sobjects" in path:
        if path.rsplit("/composite/sobjects", 1)[1]:
            return "collections_upsert"
        return {"POST": "collections_create", "PATCH": "collections_update",
                "DELETE": "collections_delete"}.get(method, "other")
    for suffix, kind in (("/deleted", "getDeleted"), ("/updated", "getUpdated"),
                         ("/limits", "limits")):
        if path.endswith(suffix):
            return kind
    return "sobject" if "/sobjects/" in path else "other"


class _Session(requests.Session):
    """simple-salesforce passes no timeout on most calls: every request gets ours. And
    a configured CA bundle is passed on each request, because requests lets a
    REQUESTS_CA_BUNDLE in the environment override a session's own ``verify``."""

    def __init__(self, timeout: float, verify: str | bool) -> None:
        super().__init__()
        self.timeout = timeout
        self.verify = verify

    def request(self, method: str | bytes, url: str | bytes, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        if isinstance(self.verify, str):
            kwargs.setdefault("verify", self.verify)
        try:
            return super().request(method, url, **kwargs)
        except requests.RequestException as exc:
            if exc.response is None:  # answered requests are counted by the response hook
                count_request("salesforce", "error")
            raise


class SalesforceApi:
    def __init__(self, config: SalesforceConfig, *, backoff_seconds: float = 1.0) -> None:
        self.config = config
        self.stats: Counter[str] = Counter()
        self.session = _Session(config.timeout, str(config.ca_bundle) if config.ca_bundle else True)
        self.session.hooks["response"].append(self._count)
        mount_login_route(config, self.session)
        self._backoff = backoff_seconds
        self._sf: Salesforce | None = None

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.stats[classify(response.request.method or "GET", response.url)] += 1
        count_request("salesforce", response.status_code)

    def close(self) -> None:
        self.session.close()

    # -- calling -----------------------------------------------------------------------
    def call(self, fn: Callable[[Salesforce], T], *, retry: bool = True) -> T:
        """``fn(client)``, retried when transient; failures as :class:`SalesforceApiError`."""
        attempts = self.config.max_retries + 1 if retry else 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=self._backoff, max=30 * self._backoff)
            + wait_random(0, self._backoff),
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._with_session(fn)
        except SalesforceAuthError:
            raise
        except SalesforceError as exc:
            code, message = error_detail(exc.content)
            raise SalesforceApiError(
                f"Salesforce {exc.status} {code or ''}: {message}".replace("  ", " "),
                code=code, status=exc.status,
                retryable=_transient(exc) or code in RETRYABLE_CODES,
                lost=exc.status >= 500,
            ) from exc
        except requests.RequestException as exc:
            raise SalesforceApiError(
                f"Salesforce unreachable: {type(exc).__name__}: {exc}"[:400],
                retryable=True, lost=True,
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _with_session(self, fn: Callable[[Salesforce], T]) -> T:
        client = self.client()
        try:
            return fn(client)
        except SalesforceAuthenticationFailed as exc:
            # simple-salesforce logs in again by itself when a session expires.
            raise login_failed(self.config.auth.method, exc) from None
        except SalesforceExpiredSession:
            if not can_reauthenticate(self.config):
                raise SalesforceAuthError(
                    "the Salesforce session expired and session-id auth cannot log in "
                    "again: give a new session_id or use a login method"
                ) from None
        # Re-authenticate once; a second expiry in a row is an error, not a loop.
        self._sf = None
        try:
            return fn(self.client())
        except SalesforceAuthenticationFailed as exc:
            raise login_failed(self.config.auth.method, exc) from None
        except SalesforceExpiredSession:
            raise SalesforceAuthError(
                "the Salesforce session expired again right after logging in"
            ) from None

    def client(self) -> Salesforce:
        if self._sf is None:
            self._sf = build_client(self.config, self.session)
        return self._sf

    # -- queries -----------------------------------------------------------------------
    def query_pages(
        self, soql: str, *, include_deleted: bool = False, batch_size: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Each page of a query's records, following nextRecordsUrl to the end."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else {}
        page = self.call(lambda sf: sf.query(soql, include_deleted=include_deleted,
                                             headers=headers))
        while True:
            yield list(page.get("records", []))
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self.call(lambda sf, url=next_url: sf.query_more(
                url, identifier_is_url=True, headers=headers))

    def query_records(
        self, soql: str, *, include_deleted: bool = False
    ) -> Iterator[dict[str, Any]]:
        for page in self.query_pages(soql, include_deleted=include_deleted):
            yield from page

    def get_deleted(self, start: datetime, end: datetime) -> dict[str, Any]:
        return self.call(lambda sf: sf.Lead.deleted(start, end))

    # -- collections (one result per record, in order) ---------------------------------
    def collection(
        self, method: str, path: str = "composite/sobjects", *, expect: int,
        body: dict[str, Any] | None = None, params: dict[str, str] | None = None,
        retry: bool = True,
    ) -> list[dict[str, Any]]:
        """A collections call answering ``expect`` results, one per record, in order."""
        result = self.call(
            lambda sf: sf.restful(path, params=params, method=method, json=body), retry=retry
        )
        if not isinstance(result, list) or len(result) != expect:
            raise SalesforceApiError(
                f"Salesforce answered {method} {path} with {type(result).__name__} "
                f"of {len(result) if isinstance(result, list) else '?'} for {expect} records",
                retryable=True, lost=True,
            )
        return result
