"""Contacts gone from HubSpot: archived (the recycle bin), merged away (never a
deletion: relinked through the survivor), or purged for good (no trace at all)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from nexasync.connectors._hs_api import BATCH_SIZE, HubSpotApi
from nexasync.connectors._hs_search import parse_hs_datetime
from nexasync.connectors.base import KnownIds, Record


def merged_ids(props: Mapping[str, Any], own_id: str) -> set[str]:
    text = props.get("hs_merged_object_ids") or ""
    return {part.strip() for part in str(text).split(";") if part.strip()} - {own_id}


def archived_since(
    api: HubSpotApi, since: datetime | None, known: KnownIds, overlap: timedelta
) -> tuple[dict[str, datetime | None], datetime | None]:
    """Known ids archived after ``since`` (minus the overlap), and the newest
    ``archivedAt`` seen: the next check's ``since``. HubSpot lists archived contacts
    by id only, so this pages through all of them."""
    found: dict[str, datetime | None] = {}
    newest = since
    floor = None if since is None else since - overlap
    after: str | None = None
    while True:
        page = api.list_page(archived=True, properties=["hs_object_id"], after=after)
        for row in page.get("results") or []:
            id = str(row["id"])
            when = parse_hs_datetime(row.get("archivedAt"))
            if when is not None and (newest is None or when > newest):
                newest = when
            if id in known and (floor is None or when is None or when > floor):
                found[id] = when
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not after or not page.get("results"):
            return found, newest


def confirm_gone(api: HubSpotApi, ids: list[str]) -> Iterator[Record]:
    """Of ``ids``, those HubSpot no longer has live: a batch read answers a contact
    merged away with its survivor (not a deletion), an archived or purged one not."""
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start:start + BATCH_SIZE]
        _, answer = api.batch("read", {
            "inputs": [{"id": id} for id in chunk],
            "properties": ["hs_object_id", "hs_merged_object_ids"],
        })
        alive: set[str] = set()
        for row in answer.get("results") or []:
            rid = str(row.get("id"))
            alive.add(rid)
            alive |= merged_ids(row.get("properties") or {}, rid)
        for id in chunk:
            if id not in alive:
                yield Record(id, deleted=True)
