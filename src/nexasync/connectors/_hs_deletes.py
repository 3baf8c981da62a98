"""Contacts gone from HubSpot: archived (the recycle bin), merged away (never a
deletion: relinked through the survivor), or purged for good (no trace at all)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from nexasync.connectors._hs_api import BATCH_SIZE, HubSpotApi
from nexasync.connectors._hs_search import parse_hs_datetime, to_ms
from nexasync.connectors._hs_window import Window
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


class LiveCount:
    """The live contacts' count (a search ``total``) against the last pull's: a count
    that has not dropped, beyond what was read, needs no archived listing.

    ``rows`` are the contacts a pull read, as ``{"id", "created"}`` (epoch ms). A
    contact archived beside one created keeps the count, but not the expected
    count: the create is read, so the count expected grows and the drop shows.
    """

    def __init__(
        self, live: int, before: Any, merged: set[str], checked: datetime | None
    ) -> None:
        self.live = live
        self.before = None if before is None else int(before)
        self.merged = merged  # survivors' merged ids the last pull saw
        self.checked = checked
        self.listed = False
        self.merged_away: set[str] = set()  # known, named by a survivor read now
        self.archived: set[str] = set()  # known, confirmed gone

    @property
    def departed(self) -> set[str]:
        return self.merged_away | self.archived

    def expected(
        self, rows: Sequence[Mapping[str, Any]], window: Window, known: KnownIds
    ) -> int | None:
        """The live count if nothing was archived: the last one, plus the contacts read
        that may not have been live then (created in the window and not in it then, or
        unknown to the sync), minus the known ones merged away."""
        if self.before is None:
            return None
        since = to_ms(window.since)
        arrivals = sum(1 for row in rows if row["id"] not in known
                       or (row["created"] >= since and not window.knows(row["id"])))
        return self.before + arrivals - len(self.merged_away)

    def unexplained_arrivals(
        self, rows: Sequence[Mapping[str, Any]], window: Window, known: KnownIds
    ) -> bool:
        """More live contacts than read: one created late, behind the watermark."""
        expected = self.expected(rows, window, known)
        return expected is not None and self.live > expected - len(self.archived)

    def check(
        self, api: HubSpotApi, rows: Sequence[Mapping[str, Any]], merged_now: set[str],
        window: Window, known: KnownIds, overlap: timedelta,
    ) -> Iterator[Record]:
        """Known contacts archived since the last pull, when the count says some
        contact left that no merge explains (listed once a pull). Each one found is
        confirmed by a batch read, so a merge landing after the search is no deletion."""
        self.merged_away |= {m for m in merged_now if m in known and m not in self.merged}
        expected = self.expected(rows, window, known)
        if self.listed or (expected is not None and self.live >= expected):
            return
        self.listed = True
        archived, self.checked = archived_since(api, self.checked, known, overlap)
        candidates = sorted(id for id in archived if id not in merged_now
                            and id not in self.merged)
        for record in confirm_gone(api, candidates):
            self.archived.add(record.id)
            yield record
