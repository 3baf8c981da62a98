"""A local HubSpot: the CRM v3 contacts API hubspot-api-client speaks, over plain HTTP.

Single-object calls (with ``idProperty=email``), listing (live or archived), the batch
endpoints with HubSpot's all-or-nothing and multi-status rules, search with its
filters, sort and 10,000-result cap, merges, owners and the contact property
definitions; bearer-token auth, HubSpot's error bodies, its rate-limit headers and its
three limits (rolling window, daily, search per second) measured on ``clock``.

Point the client at it with ``HubSpot(access_token=..., host=server.url)``: the client
copies ``host`` onto every API's Configuration.
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from nexasync.sandbox._hs_errors import (
    HsError,
    envelope,
    respond,
    search_limited,
    ten_secondly_limited,
    unauthorized,
)
from nexasync.sandbox._hs_limits import RateLimits
from nexasync.sandbox._hs_routes import flag, kind_of, route
from nexasync.sandbox._hs_schema import contact_props, ms
from nexasync.sandbox._hs_scopes import DEFAULT_SCOPES, require, token_info
from nexasync.sandbox._hs_seed import seed as seed_contacts
from nexasync.sandbox._hs_store import Contact, Store
from nexasync.sandbox._http import Emulator, Faults

log = logging.getLogger(__name__)
_FAULT_MESSAGES = {500: "internal error", 502: "Bad Gateway", 503: "Service Unavailable",
                   504: "gateway timeout"}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class HubSpotEmulator(Emulator):
    """Contacts, owners and properties in memory. Direct methods (``add_contact`` ...)
    seed and inspect them without HTTP and are not counted as requests."""

    name = "hubspot"

    def __init__(self, access_token: str = "hs_sandbox_token", *, search_rate: int = 5,
                 rate_limit: int = 190, rate_window: float = 10.0,
                 clock: Callable[[], datetime] | None = None,
                 custom_properties: dict[str, dict[str, Any]] | None = None,
                 scopes: Iterable[str] = DEFAULT_SCOPES) -> None:
        super().__init__()
        self.access_token = access_token
        #: The private app's scopes: a request needing one it lacks is answered 403.
        self.scopes: list[str] = list(scopes)
        #: Where timestamps and rate windows come from; a test may swap it.
        self.clock: Callable[[], datetime] = clock or _utcnow
        self._props = contact_props(custom_properties)
        #: The budgets; tests may change ``rate_limit``, ``daily_limit`` ... on it.
        self.limits = RateLimits(lambda: self.clock(), rate_limit=rate_limit,
                                 rate_window=rate_window, search_rate=search_rate)
        self._local = threading.local()
        self.store = Store(self._props, lambda: self.clock())

    def reset(self) -> None:
        """An empty account (no contacts or owners), budgets, counters and faults cleared;
        the configuration (token, limits, properties, clock) is kept."""
        with self._lock:
            self.store = Store(self._props, lambda: self.clock())
            self.limits.reset()
            self.faults = Faults()
            self.reset_counts()

    # -- test-facing API (not counted as requests) ----------------------------------------
    def add_owner(self, email: str, first: str = "", last: str = "", active: bool = True) -> str:
        with self._lock:
            return self.store.add_owner(email, first, last, active)

    def owners(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(o) for o in self.store.owners.values()]

    def add_contact(self, **properties: Any) -> str:
        """Create a contact as the API would; raises HsError (400, 409) as the API answers."""
        with self._lock:
            return self.store.create(properties).id

    def update_contact(self, id: str, **properties: Any) -> None:
        with self._lock:
            self.store.update(self._live(id), properties)

    def archive_contact(self, id: str) -> None:
        with self._lock:
            self.store.archive(self._live(id))

    def merge(self, primary_id: str, merged_id: str) -> str:
        with self._lock:
            return self.store.merge(primary_id, merged_id).id

    def get(self, id: str) -> dict[str, Any] | None:
        """The contact (live or archived) with every set property; for a merged-away id,
        the contact it was merged into, as HubSpot answers."""
        with self._lock:
            contact = self.store.find(id) or self.store.find(id, archived=True)
            return None if contact is None else self._plain(contact)

    def contacts(self, include_archived: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.store.rows()
            if include_archived:
                rows = sorted(rows + self.store.rows(archived=True), key=lambda c: int(c.id))
            return [self._plain(c) for c in rows]

    def seed(self, n: int, *, seed: int = 0) -> list[str]:
        with self._lock:
            try:
                return seed_contacts(self.store, n, seed)
            finally:
                self.store.touch()  # seeding backdates the stamps after creating

    def set_lastmodified(self, ids: Iterable[str], when: datetime) -> None:
        """Give contacts one identical lastmodifieddate, as a bulk edit does."""
        with self._lock:
            for id_ in ids:
                contact = self.store.find(id_) or self.store.find(id_, archived=True)
                if contact is None:
                    raise KeyError(id_)
                contact.updated = ms(when)
                self.store.touch()

    def _live(self, id_: str) -> Contact:
        contact = self.store.find(id_)
        if contact is None:
            raise KeyError(id_)
        return contact

    def _plain(self, contact: Contact) -> dict[str, Any]:
        out = self.store.render(contact, full=True)
        out.setdefault("archivedAt", None)
        return out

    # -- HTTP ---------------------------------------------------------------------------
    def classify(self, request: Request) -> str:
        kind = kind_of(request.method, request.path, flag(request, "archived"))
        self._local.kind = kind
        return kind

    def _authorised(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.access_token.encode())

    def handle(self, request: Request) -> Response:
        kind = getattr(self._local, "kind", None) or self.classify(request)
        if kind == "token_info":
            return token_info(request, self.access_token, self.scopes)
        search = kind == "search"
        admitted = False
        try:
            if not self._authorised(request):
                raise unauthorized()
            admitted = True
            self.limits.admit(search)
            require(kind, self.scopes)
            response = route(self.store, request, kind)
        except HsError as e:
            response = e.response()
        except Exception:  # an emulator bug: keep the traceback, answer like HubSpot does
            log.exception("hubspot emulator failed on %s %s", request.method, request.path)
            response = respond(envelope("internal error"), 500)
        if admitted:
            response.headers.update(self.limits.headers(search))
        return response

    def error_response(self, status: int, message: str, retry_after: float | None) -> Response:
        search = getattr(self._local, "kind", "") == "search"
        headers: dict[str, str] = {}
        if status == 429:
            error = search_limited() if search else ten_secondly_limited()
            body = error.body
            headers.update(self.limits.headers(search))
            if not search:
                headers["X-HubSpot-RateLimit-Remaining"] = "0"
        else:
            body = envelope(_FAULT_MESSAGES.get(status, message))
        if retry_after is not None:
            headers["Retry-After"] = str(max(0, math.ceil(retry_after)))
        return respond(body, status, headers)


__all__ = ["HsError", "HubSpotEmulator"]
