"""HubSpot owners for rep mapping by email: the active owners, read through the owners
API only when a rep or owner cannot be resolved from ``rep_map`` alone (the cache and
the resolution rules are :class:`nexasync.connectors._owners.OwnerMap`'s)."""

from __future__ import annotations

from nexasync.connectors._hs_api import HubSpotApi


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
