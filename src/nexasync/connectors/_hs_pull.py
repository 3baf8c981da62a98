"""Incremental reads of contacts, and telling a deletion from a merge.

An incremental pull starts with one search: every live contact, newest change
first, one page. Its ``total`` is the number of live contacts, its rows the
newest changes: all of them in an ordinary cycle. Then:

* more changes than a page: the rest through the windowed search from the
  watermark (:mod:`._hs_search`);
* the recent window, where HubSpot's lagging search index may still add changes
  behind the watermark, is checked by count (:mod:`._hs_window`): from the page
  when it reaches the window's start, else with a one-row search's ``total``; and
  read again only when the count says something is missing, or once it settles;
* deletions: the live count must be the last one, plus the contacts read that
  were not live then (created since, or not known to the sync), minus the known
  contacts merged away (named in a survivor's ``hs_merged_object_ids``). Only
  when it is lower are the archived contacts listed, and each known one found is
  confirmed with a batch read, which answers a contact merged away with its
  survivor: a merge is relinked, never deleted. An archive beside a create keeps
  the count but not the sum: the create is read, so the count expected grows.

An idle pull is one search, two while the window holds more than a page.

The first sync reads everything through the windowed search (200 contacts per
request instead of the list endpoint's 100) and confirms the known ids it did not
see with a batch read: archived, purged for good (which no archived listing
shows) or merged away (answered by the survivor).

The cursor is ``{"watermark", "window", "live", "archived_checked", "merged"}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from nexasync.connectors._hs_api import SEARCH_PAGE_SIZE, HubSpotApi
from nexasync.connectors._hs_deletes import LiveCount, confirm_gone, merged_ids
from nexasync.connectors._hs_mapping import ContactMapping, MappingError, Owners
from nexasync.connectors._hs_owners import OwnerCache
from nexasync.connectors._hs_search import (
    MODIFIED,
    NOT_IN_VALUES,
    OBJECT_ID,
    WindowedSearch,
    iso_ms,
    parse_hs_datetime,
    row_modified,
    to_ms,
)
from nexasync.connectors._hs_window import IdRanges, Window
from nexasync.connectors.base import Cursor, KnownIds, Pull, Record

__all__ = ["ContactPuller", "merged_ids", "read_record"]


def read_record(
    row: Mapping[str, Any], mapping: ContactMapping, owners: Owners, known: KnownIds | None
) -> Record:
    """A live contact as a :class:`Record` (``invalid`` when it cannot be read);
    ``merged_ids`` names the known ids merged into it."""
    id = str(row["id"])
    props = row.get("properties") or {}
    merged = tuple(sorted(m for m in merged_ids(props, id) if known is None or m in known))
    try:
        stamp = row_modified(row)
        fields = mapping.read(props, owners)
    except (MappingError, ValueError) as exc:
        return Record(id, invalid=str(exc), merged_ids=merged)
    if "assigned_rep_id" not in fields and (user := mapping.owner_of(props)):
        owners.defer(id, user)
    version = iso_ms(stamp) if stamp else None
    return Record(id, fields, version, stamp, merged_ids=merged)


def _iso(value: datetime | None) -> str | None:
    return iso_ms(value) if value else None


def _ms(row: Mapping[str, Any]) -> int:
    stamp = row_modified(dict(row))
    return to_ms(stamp) if stamp else -1


def _created_ms(row: Mapping[str, Any]) -> int:
    props = row.get("properties") or {}
    created = parse_hs_datetime(props.get("createdate") or row.get("createdAt"))
    return to_ms(created) if created else -1


class _Reading:
    """What one pull has read: each contact once, with its stamp."""

    def __init__(self, puller: ContactPuller, known: KnownIds) -> None:
        self._puller = puller
        self.known = known
        self.stamps: dict[str, int] = {}
        self.rows: list[Mapping[str, Any]] = []
        self.merged: set[str] = set()

    def take(self, row: Mapping[str, Any]) -> Iterator[Record]:
        id = str(row["id"])
        if id in self.stamps:
            return
        self.stamps[id] = _ms(row)
        self.rows.append({"id": id, "created": _created_ms(row)})
        record = read_record(row, self._puller.mapping, self._puller.owners, self.known)
        self.merged |= merged_ids(row.get("properties") or {}, id)
        yield record

    def high(self, watermark: datetime | None) -> datetime | None:
        newest = max(self.stamps.values(), default=-1)
        if watermark is not None and newest <= to_ms(watermark):
            return watermark
        return parse_hs_datetime(str(newest)) if newest >= 0 else watermark


class ContactPuller:
    def __init__(
        self, api: HubSpotApi, mapping: ContactMapping, owners: Owners, *, overlap_seconds: int,
        owner_cache: OwnerCache | None = None,
    ) -> None:
        self._api = api
        self.mapping = mapping
        self.owners = owners
        self._owner_cache = owner_cache
        self._overlap = timedelta(seconds=overlap_seconds)
        self._search = WindowedSearch(api, mapping.properties)

    def pull(self, cursor: Cursor | None, known: KnownIds) -> Pull:
        given = cursor or {}

        def produce(set_cursor: Callable[[Cursor], None]) -> Iterator[Record]:
            def finish(value: Cursor) -> None:
                if self._owner_cache is not None:
                    value["owners"] = self._owner_cache.saved(given.get("owners"))
                set_cursor(value)

            return self._records(given, known, finish)

        pull = Pull.deferred(produce)
        if self._owner_cache is not None:
            self._owner_cache.offer(given.get("owners"), pull)
        return pull

    def _records(
        self, cursor: Cursor, known: KnownIds, set_cursor: Callable[[Cursor], None]
    ) -> Iterator[Record]:
        watermark = parse_hs_datetime(cursor.get("watermark"))
        if watermark is None:
            yield from self._first(cursor, known, set_cursor)
        else:
            yield from self._next(cursor, watermark, known, set_cursor)

    # -- the first sync ---------------------------------------------------------------
    def _first(
        self, cursor: Cursor, known: KnownIds, set_cursor: Callable[[Cursor], None]
    ) -> Iterator[Record]:
        reading = _Reading(self, known)
        for row in self._search.changed(None):
            yield from reading.take(row)
        if known.count():
            # A full read doubles as the deletion check: a known contact it did not see
            # was archived, purged for good (past the recycle bin, or a GDPR delete:
            # no archived listing shows those) or merged away, which the batch read
            # answers with the survivor.
            missing = [id for id in known if id not in reading.stamps
                       and id not in reading.merged]
            yield from confirm_gone(self._api, missing)
        # Archives from here on are the archived listing's, when a count asks for it.
        checked = self._search.first_time
        high = reading.high(None)
        window = self._window_after(reading, high, self._search.first_time, None)
        set_cursor(self._cursor(high, window, self._search.first_total or 0, checked,
                                reading, known))

    # -- every later pull -------------------------------------------------------------
    def _next(
        self, cursor: Cursor, watermark: datetime, known: KnownIds,
        set_cursor: Callable[[Cursor], None],
    ) -> Iterator[Record]:
        checked = parse_hs_datetime(cursor.get("archived_checked"))
        merged_before = set(cursor.get("merged") or ())
        live_before = cursor.get("live")
        window = Window.load(cursor.get("window"), parse_hs_datetime) or Window(
            watermark - self._overlap, -1, None)
        since, mark = to_ms(window.since), to_ms(watermark)
        reading = _Reading(self, known)

        page = self._api.search({
            "sorts": [{"propertyName": MODIFIED, "direction": "DESCENDING"}],
            "properties": self.mapping.properties, "limit": SEARCH_PAGE_SIZE,
        })
        live = int(page.get("total") or 0)
        now = self._api.server_time
        rows = page.get("results") or []
        inside = [r for r in rows if _ms(r) >= since]
        count = -1
        reread = False
        members: dict[str, int] | None = None
        if len(rows) >= live or len(inside) < len(rows):
            # The page reaches past the window's start: it shows the whole window, so
            # whatever differs from what the cursor remembers of it is read, and the
            # window is known afresh without another request.
            members = {str(r["id"]): _ms(r) for r in inside}
            for row in inside:
                id = str(row["id"])
                if window.stamps is None or window.stamps.get(id) != members[id]:
                    yield from reading.take(row)
        else:
            reread = self._settled(window, watermark, now) or window.ids is None \
                or window.count < 0
            if not reread:
                for row in inside:
                    if _ms(row) > mark or not window.knows(str(row["id"])):
                        yield from reading.take(row)
                if all(_ms(r) > mark for r in rows):
                    # More changes than a page: the rest, newer than the watermark (the
                    # window's count answers for anything at or behind it).
                    after = watermark + timedelta(milliseconds=1)
                    yield from self._walk_to_page(after, rows, reading)
                count = self._count_since(window.since)
        tally = LiveCount(live, live_before, merged_before, checked)
        yield from tally.check(self._api, reading.rows, reading.merged, window, known,
                               self._overlap)
        if members is None and not reread:
            # The window must hold what it held, plus what entered it (read), minus what
            # left it (archived or merged away, as just confirmed): more, or less than
            # is explained, is a change the index showed late.
            entered = sum(1 for id, t in reading.stamps.items()
                          if t >= since and not window.knows(id))
            departed = sum(1 for id in tally.departed if window.knows(id))
            reread = count != window.count + entered - departed
        if members is None and (reread or tally.unexplained_arrivals(reading.rows, window,
                                                                      known)):
            members = yield from self._reread(reading, window)
            yield from tally.check(self._api, reading.rows, reading.merged, window, known,
                                   self._overlap)
        checked = tally.checked

        high = reading.high(watermark)
        if members is not None:
            window = self._window_after(reading, high, now, window, members)
        else:
            ids = window.ids.union(id for id, t in reading.stamps.items() if t >= since) \
                if window.ids is not None else None
            window = Window(window.since, count, ids)
        set_cursor(self._cursor(high, window, live, checked, reading, known))

    def _walk_to_page(
        self, after: datetime, page: list[dict[str, Any]], reading: _Reading
    ) -> Iterator[Record]:
        """The changes from ``after`` on, the newest of which ``page`` holds already.

        The walk, oldest first, ends with the page's rows: it stops before the request
        that would only repeat them, once every contact its query matched is in hand.
        The page's contacts at its oldest stamp are left out of the query (a tie there
        comes back in the walk's own order, mixed with the ones the page lacks), so the
        walk's rows before the page's are exactly the changes still to read. A contact
        of the page archived meanwhile leaves the count one short, so the walk may then
        stop one change early; that change is behind the new watermark, inside the
        recent window, and is read when the window settles."""
        cut = min(_ms(r) for r in page)
        tied = [str(r["id"]) for r in page if _ms(r) == cut]
        leave_out = tied if len(tied) <= NOT_IN_VALUES else []
        walk = self._search.changed(after, leave_out=leave_out)
        for row in walk:
            yield from reading.take(row)
            if self._search.windows == 1 and len(reading.stamps) >= (
                    self._search.last_total or 0) + len(leave_out):
                walk.close()
                return

    def _settled(self, window: Window, watermark: datetime, now: datetime | None) -> bool:
        """Whether the window is two overlaps old (on HubSpot's clock, else in data
        time): what a count cannot see in it (a contact changed twice, late) is
        read then, and the window starts afresh."""
        return (now or watermark) - 2 * self._overlap >= window.since

    def _count_since(self, since: datetime) -> int:
        page = self._api.search({
            "filterGroups": [{"filters": [
                {"propertyName": MODIFIED, "operator": "GTE", "value": str(to_ms(since))}]}],
            "properties": [OBJECT_ID], "limit": 1,
        })
        return int(page.get("total") or 0)

    def _reread(self, reading: _Reading, window: Window) -> Iterator[Record]:
        """The whole window read again; returns its contacts and their stamps."""
        members: dict[str, int] = {}
        for row in self._search.changed(window.since):
            members[str(row["id"])] = _ms(row)
            yield from reading.take(row)
        return members

    def _window_after(
        self, reading: _Reading, high: datetime | None, now: datetime | None,
        old: Window | None, members: Mapping[str, int] | None = None,
    ) -> Window | None:
        """The window after a full read of it: from ``now - overlap`` (no change still
        unsearchable is older), else from the watermark minus the overlap."""
        base = now or high
        if base is None:
            return None
        since = base - self._overlap
        if old is not None and old.since > since:
            since = old.since
        cut = to_ms(since)
        stamps = dict(reading.stamps)
        stamps.update(members or {})  # the later read of the two
        inside = {id: t for id, t in stamps.items() if t >= cut}
        # A window of a page or less is remembered with its stamps: then a contact
        # changed twice, the second time late, shows as a new stamp on the page.
        small = inside if len(inside) <= SEARCH_PAGE_SIZE else None
        return Window(since, len(inside), IdRanges.of(inside), small)

    def _cursor(
        self, high: datetime | None, window: Window | None, live: int,
        checked: datetime | None, reading: _Reading, known: KnownIds,
    ) -> Cursor:
        return {
            "watermark": _iso(high),
            "window": None if window is None else window.to_json(_iso),
            "live": live,
            "archived_checked": _iso(checked),
            "merged": sorted(m for m in reading.merged if m in known),
        }
