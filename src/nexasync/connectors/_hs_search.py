"""Every contact changed since a time, through the search API, read completely.

HubSpot's search stops at 10,000 results per query (asking past that is a 400)
and sorts by one property only. So the changes are read in *windows*, each one
query sorted by ``lastmodifieddate``:

* a window that ends below the cap is the end;
* a window that reaches the cap starts the next one at its last timestamp
  (``GTE``), skipping the ids already read at that timestamp;
* a window that holds one timestamp only (10,000+ contacts changed in one bulk
  edit) cannot move on by time: the contacts of that timestamp are read in id
  order (``lastmodifieddate EQ t AND hs_object_id GT last``, windowed the same
  way), then the time windows go on after it (``GT t``). Such a timestamp is
  spotted on the first full page it fills alone (a count query then says 10,000+
  share it) rather than after paging through a window that cannot pass it.

Each window moves strictly forward, so the walk ends, in about one request per
200 contacts plus one or two per window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from nexasync.connectors._hs_api import SEARCH_PAGE_SIZE, HubSpotApi

#: HubSpot answers no search past this many results.
SEARCH_CAP = 10_000
#: Values one IN / NOT_IN filter may list.
NOT_IN_VALUES = 100
MODIFIED = "lastmodifieddate"
OBJECT_ID = "hs_object_id"

_DIGITS = re.compile(r"^\d+$")


def parse_hs_datetime(value: Any) -> datetime | None:
    """HubSpot's ``2024-05-01T12:00:00.123Z`` (or epoch milliseconds) as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip()
    if _DIGITS.match(text):
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def to_ms(value: datetime) -> int:
    return int(round(value.timestamp() * 1000))


def iso_ms(value: datetime) -> str:
    """One spelling for a timestamp, whatever HubSpot sent (used as a record version)."""
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def row_modified(row: dict[str, Any]) -> datetime | None:
    props = row.get("properties") or {}
    return parse_hs_datetime(props.get(MODIFIED) or row.get("updatedAt"))


def _filter(prop: str, op: str, value: Any) -> dict[str, str]:
    return {"propertyName": prop, "operator": op, "value": str(value)}


class WindowedSearch:
    def __init__(
        self, api: HubSpotApi, properties: list[str], *,
        page_size: int = SEARCH_PAGE_SIZE, cap: int = SEARCH_CAP,
    ) -> None:
        self._api = api
        self._properties = properties
        self._page_size = page_size
        self._cap = cap
        #: The ``total`` HubSpot gave on the first page of the last walk: how many
        #: contacts its first query matched (every live contact when it had no ``since``).
        self.first_total: int | None = None
        #: HubSpot's time when it answered that first page.
        self.first_time: datetime | None = None
        #: How many contacts the query of the latest page matched, and which window of
        #: the walk that query was (1: the first, which starts at ``since``).
        self.last_total: int | None = None
        self.windows = 0

    def changed(
        self, since: datetime | None, *, leave_out: Iterable[str] = ()
    ) -> Iterator[dict[str, Any]]:
        """Each contact with ``lastmodifieddate >= since`` (all when None), once,
        oldest change first; ``leave_out`` (at most :data:`NOT_IN_VALUES` ids) are
        not asked for."""
        out = sorted(leave_out)
        extra = [{"propertyName": OBJECT_ID, "operator": "NOT_IN", "values": out}] if out else []
        self.first_total = self.first_time = self.last_total = None
        self.windows = 0
        lower: dict[str, str] | None = (
            None if since is None else _filter(MODIFIED, "GTE", to_ms(since)))
        skip: set[str] = set()
        checked: set[int] = set()
        while True:
            self.windows += 1
            first: int | None = None
            last: int | None = None
            page_first: int | None = None
            at_last: set[str] = set()
            capped = bulk = False
            for row, count, total in self._window(([lower] if lower else []) + extra,
                                                  MODIFIED):
                id = str(row["id"])
                stamp = row_modified(row)
                t = to_ms(stamp) if stamp else 0
                first = t if first is None else first
                if (count - 1) % self._page_size == 0:
                    page_first = t
                if t != last:
                    last, at_last = t, set()
                at_last.add(id)
                # A window that read all its query matched ends the walk, even at the cap.
                capped = count >= self._cap and total > count
                if id not in skip:
                    yield row
                # A full page of one timestamp may be a bulk edit too big for any window:
                # ask how big (once per timestamp) before paging on through a window
                # that cannot get past it. Past the first page, only where the window
                # cannot hold all its query matched (else it gets past it anyway).
                if (count % self._page_size == 0 and page_first == t and t not in checked
                        and (count == self._page_size or total > self._cap)):
                    checked.add(t)
                    if self._crowded(t):
                        bulk = True
                        break
            if (not capped and not bulk) or last is None:
                return
            if bulk or first == last:
                # One timestamp fills a window: walk it by id, then go past it. What this
                # window read of it (a page or two) is not yielded again.
                self.windows += 1  # its queries' totals are not the first window's
                yield from self._one_timestamp(last, at_last | skip)
                lower, skip = _filter(MODIFIED, "GT", last), set()
            else:
                lower, skip = _filter(MODIFIED, "GTE", last), at_last

    def _crowded(self, stamp: int) -> bool:
        """Whether at least a whole window's worth of contacts share ``stamp``."""
        page = self._api.search({
            "filterGroups": [{"filters": [_filter(MODIFIED, "EQ", stamp)]}],
            "properties": [OBJECT_ID], "limit": 1,
        })
        return int(page.get("total") or 0) >= self._cap

    def _one_timestamp(self, stamp: int, seen: set[str]) -> Iterator[dict[str, Any]]:
        after_id: str | None = None
        while True:
            filters = [_filter(MODIFIED, "EQ", stamp)]
            if after_id is not None:
                filters.append(_filter(OBJECT_ID, "GT", after_id))
            capped = False
            for row, count, total in self._window(filters, OBJECT_ID):
                after_id = str(row["id"])
                capped = count >= self._cap and total > count
                if after_id not in seen:
                    yield row
            if not capped:
                return

    def _window(
        self, filters: list[dict[str, str]], sort: str
    ) -> Iterator[tuple[dict[str, Any], int, int]]:
        """One query's results (with how many the query has answered so far, and how
        many it matched in all), paged up to the cap and never past it."""
        count = 0
        after: str | None = None
        while count < self._cap:
            body: dict[str, Any] = {
                "filterGroups": [{"filters": filters}] if filters else [],
                "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
                "properties": self._properties,
                "limit": min(self._page_size, self._cap - count),
            }
            if after is not None:
                body["after"] = after
            page = self._api.search(body)
            if self.first_total is None:
                self.first_total = int(page.get("total") or 0)
                self.first_time = self._api.server_time
            results = page.get("results") or []
            total = self.last_total = int(page.get("total") or 0)
            for row in results:
                count += 1
                yield row, count, total
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not results or not after:
                return
