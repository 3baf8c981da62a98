"""HubSpot owners for rep mapping by email: the active owners, read through the owners
API only when a rep or owner cannot be resolved from ``rep_map`` alone (the cache and
the resolution rules are :class:`nexasync.connectors._owners.OwnerMap`'s), carried
between cycles in the pull cursor for a short while."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from nexasync.connectors._hs_api import HubSpotApi
from nexasync.connectors._hs_search import iso_ms, parse_hs_datetime
from nexasync.connectors._owners import USERS_TTL_SECONDS
from nexasync.connectors.base import Pull


def load_owners(api: HubSpotApi) -> dict[str, str | None]:
    """Owner id (what ``hubspot_owner_id`` holds, not the user id) -> email."""
    owners: dict[str, str | None] = {}
    after: str | None = None
    while True:
        page = api.owners_page(after)
        for row in page.get("results") or []:
            if row.get("archived"):
                continue
            owners[str(row["id"])] = row.get("email")
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not after or not page.get("results"):
            return owners


class OwnerCache:
    """The owners list carried from one cycle to the next in the pull's cursor, so a
    ``sync --once`` process that resolves an owner does not list them all again.

    A list carried over is used only by the process's first load, and only while it is
    younger than half of :data:`USERS_TTL_SECONDS` on HubSpot's clock (``Date``): the
    owner map then trusts it for its own TTL, so no list older than 1.5 TTLs is used.
    Later loads (the map's TTL ran out) always ask HubSpot.
    """

    def __init__(self, api: HubSpotApi) -> None:
        self._api = api
        self._carried: Mapping[str, Any] | None = None
        self._first = True
        self._latest: dict[str, Any] | None = None
        self._pull: Pull | None = None

    def offer(self, saved: Any, pull: Pull) -> None:
        """What the cursor of ``pull`` carried; a later load also updates its cursor."""
        self._pull = pull
        if self._first and isinstance(saved, Mapping) and isinstance(saved.get("owners"), Mapping):
            self._carried = saved

    def load(self) -> dict[str, str | None]:
        carried, self._carried = self._carried, None
        first, self._first = self._first, False
        now = self._api.server_time
        if first and carried is not None and now is not None:
            at = parse_hs_datetime(carried.get("at"))
            if at is not None and timedelta(0) <= now - at <= timedelta(
                    seconds=USERS_TTL_SECONDS / 2):
                self._latest = dict(carried)
                return {str(k): v for k, v in carried["owners"].items()}
        owners = load_owners(self._api)
        at = self._api.server_time
        self._latest = None if at is None else {"at": iso_ms(at), "owners": owners}
        pull = self._pull
        if pull is not None and pull.cursor is not None and self._latest is not None:
            # Loaded after the pull (to write): the engine stores the cursor after the
            # writes, so the list still goes with it.
            pull.cursor = {**pull.cursor, "owners": self._latest}
        return owners

    def saved(self, carried: Any) -> dict[str, Any] | None:
        """What the next cursor carries: the list this process loaded, else the one it
        was handed (its age still counts from when it was loaded)."""
        if self._latest is not None:
            return self._latest
        return dict(carried) if isinstance(carried, Mapping) and "at" in carried else None
