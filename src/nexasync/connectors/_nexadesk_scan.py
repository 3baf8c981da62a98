"""The NexaDesk pull: an incremental scan by updated_at, and deletion detection.

The list cursor is an offset, computed against the data as it is at each request.
Sorted by updated_at descending, an update or a create puts a lead at the front:
later leads move back one place, so a page may repeat a lead (harmless), and the
moved lead itself is newer than anything this scan saw, so the next scan gets it.
A delete moves later leads *forward* one place, and the lead that crosses the page
boundary is skipped. That is the one unsafe case, and it always lowers
``total_count`` between two pages (creates and updates cannot hide it: they only
push leads back). So a scan whose total dropped is read again to the same stop
point; if it keeps changing, the pull is marked incomplete and the cursor does not
move, so the next cycle reads the same window.

Deletions leave no trace in a list, and a lead missing from one scan is no proof.
The cheap test: ``total_count`` of the first page against the leads that must
exist (the known ids, plus the unknown ones this or an earlier scan saw). Only
when the total is smaller is a full id scan run, and every known id missing from
it is confirmed with a targeted search before it is reported deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from nexasync.connectors._nexadesk_convert import format_ts, parse_ts
from nexasync.connectors._nexadesk_http import Http
from nexasync.connectors._nexadesk_read import Inconclusive, pages, search
from nexasync.connectors._prefetch import prefetched
from nexasync.connectors.base import Cursor, KnownIds, Pull, Record
from nexasync.lead import norm_email, norm_str

log = structlog.get_logger("nexasync.nexadesk")

#: Scans of one window before giving up on a stable read for this cycle.
SCAN_ATTEMPTS = 3
#: Most ids kept in each list of the cursor (it lives in the state store).
MAX_CURSOR_IDS = 1000

Reader = Callable[[Mapping[str, Any]], Record]


@dataclass
class State:
    """The cursor, decoded."""

    watermark: datetime | None = None
    #: id -> version of the leads seen at exactly ``watermark`` (millisecond ties).
    boundary: dict[str, str] = field(default_factory=dict)
    #: Existing leads that are not known ids (e.g. invalid ones): they count in totals.
    strays: set[str] = field(default_factory=set)
    #: Known ids confirmed deleted: reported again while they are still known.
    gone: set[str] = field(default_factory=set)
    #: Known ids absent from a full scan whose deletion could not be confirmed.
    missing: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, cursor: Cursor | None) -> State:
        if not cursor:
            return cls()
        mark = cursor.get("watermark")
        return cls(
            watermark=parse_ts(mark) if mark else None,
            boundary=dict(cursor.get("boundary") or {}),
            strays=set(cursor.get("strays") or ()),
            gone=set(cursor.get("gone") or ()),
            missing=set(cursor.get("missing") or ()),
        )

    def dump(self) -> Cursor:
        def cap(ids: Iterable[str]) -> list[str]:
            return sorted(ids)[:MAX_CURSOR_IDS]

        return {
            "watermark": format_ts(self.watermark) if self.watermark else None,
            "boundary": self.boundary,
            "strays": cap(self.strays),
            "gone": cap(self.gone),
            "missing": cap(self.missing),
        }


#: Pages a first scan reads ahead of its reader: more than one chunk of leads.
FIRST_SCAN_AHEAD = 32


class Scan:
    """One pull. :meth:`records` streams the records and finally sets the cursor."""

    def __init__(
        self, http: Http, cursor: Cursor | None, known: KnownIds, overlap: int, read: Reader
    ) -> None:
        self.http = http
        self.known = known
        self.read = read
        try:
            self.old = State.load(cursor)
        except (TypeError, ValueError, AttributeError):
            # Unreadable (hand-edited, or from another version): reading everything
            # again is always safe, and costs one full scan.
            log.warning("nexadesk cursor unreadable; reading all leads again")
            cursor = None
            self.old = State()
        self.first_sync = cursor is None
        self.new = State(watermark=self.old.watermark)
        if self.old.watermark is not None:
            self.new.boundary = dict(self.old.boundary)
        self.stop = self.old.watermark - timedelta(seconds=overlap) if self.old.watermark else None
        self.pull: Pull | None = None
        self._old_cursor = cursor

    def start(self) -> Pull:
        self.pull = Pull(self.records())
        return self.pull

    def records(self) -> Iterator[Record]:
        assert self.pull is not None
        yielded: dict[str, str | None] = {}
        seen: set[str] = set()
        total = 0
        for attempt in range(1, SCAN_ATTEMPTS + 1):
            seen = set()
            stable, total = yield from self._changes(yielded, seen)
            if stable:
                break
            log.info("nexadesk scan changed while paging; reading again", attempt=attempt)
        else:
            log.warning("nexadesk scan kept changing; cursor kept for the next cycle")
            self._incomplete()
            self.pull.cursor = self._old_cursor
            return
        yield from self._deletions(seen, total)
        self.pull.cursor = self.new.dump()

    def _changes(
        self, yielded: dict[str, str | None], seen: set[str]
    ) -> Generator[Record, None, tuple[bool, int]]:
        """Yield the changed records; return whether the scan was stable, and the
        total of its first page."""
        first_total: int | None = None
        previous: int | None = None
        stable = True
        listing = pages(self.http, "list", {"sort": "updated_at:desc"})
        # A first scan reads every page; a later one stops at its watermark, where a page
        # fetched ahead would be a request for nothing. A first sync writes while it
        # reads (see engine.stream): the pages read meanwhile wait here, a chunk's worth
        # and more (a few MB), so the read never waits for the writes.
        ahead = prefetched(listing, FIRST_SCAN_AHEAD) if self.stop is None else listing
        for page in ahead:
            first_total = page.total if first_total is None else first_total
            if previous is not None and page.total < previous:
                stable = False
            previous = page.total
            past = False
            for raw in page.leads:
                record = self.read(raw)
                when = record.modified_at
                if self.stop is not None and when is not None and when < self.stop:
                    past = True
                    break
                seen.add(record.id)
                if record.invalid is not None:
                    self.new.strays.add(record.id)
                if when is not None:
                    self._advance(record, when)
                if self._already(record, when) or yielded.get(record.id, "") == record.version:
                    continue
                yielded[record.id] = record.version
                yield record
            if past:
                break
        return stable, first_total or 0

    def _advance(self, record: Record, when: datetime) -> None:
        mark = self.new.watermark
        if mark is None or when > mark:
            self.new.watermark, self.new.boundary = when, {}
        if when == self.new.watermark:
            self.new.boundary[record.id] = record.version or ""

    def _already(self, record: Record, when: datetime | None) -> bool:
        """Seen by the previous pull, at the watermark, and unchanged since."""
        return (
            when is not None
            and when == self.old.watermark
            and self.old.boundary.get(record.id) == record.version
        )

    # -- deletions ---------------------------------------------------------------------
    def _deletions(self, seen: set[str], total: int) -> Iterator[Record]:
        known = self.known
        gone = {i for i in self.old.gone if i in known}
        self.new.gone = set(gone)
        self.new.missing = {i for i in self.old.missing if i in known and i not in seen}
        for lead_id in sorted(gone):
            yield Record(lead_id, deleted=True)
        if self.first_sync:
            if known.count() == 0:
                return
            existing = seen  # the first sync read everything, and read it stably
        else:
            others = {i for i in seen | self.old.strays if i not in known}
            self.new.strays |= others
            expected = known.count() - len(gone) - len(self.new.missing) + len(others)
            if total >= expected:
                return
            log.info("nexadesk has fewer leads than known", total=total, expected=expected)
            scanned = self._all_ids()
            if scanned is None:
                self._incomplete()
                return
            existing = scanned
        known_ids = set(known)
        if not self.first_sync:
            self.new.strays = existing - known_ids
        for lead_id in sorted(known_ids - existing - gone):
            verdict = self._confirm_gone(lead_id)
            if verdict is True:
                self.new.gone.add(lead_id)
                yield Record(lead_id, deleted=True)
            elif verdict is None:
                self.new.missing.add(lead_id)

    def _incomplete(self) -> None:
        assert self.pull is not None
        self.pull.complete = False

    def _all_ids(self) -> set[str] | None:
        """Every lead id, by a scan stable against creates and updates (created_at
        ascending); None when deletes kept shifting it."""
        for _ in range(SCAN_ATTEMPTS):
            ids: set[str] = set()
            previous: int | None = None
            stable = True
            for page in prefetched(pages(self.http, "list", {"sort": "created_at:asc"})):
                if previous is not None and page.total < previous:
                    stable = False
                previous = page.total
                for raw in page.leads:
                    self.read(raw)
                    ids.add(str(raw["id"]))
            if stable:
                return ids
        log.warning("nexadesk id scan kept changing; deletions not checked this cycle")
        return None

    def _confirm_gone(self, lead_id: str) -> bool | None:
        """True: confirmed deleted; False: it exists; None: cannot tell."""
        base = self.known.base(lead_id) or {}
        email, name = norm_email(base.get("visitor_email")), norm_str(base.get("visitor_name"))
        terms = [t for t in (email, name) if t]
        if not terms:
            log.warning("nexadesk lead missing but unconfirmable", lead_id=lead_id)
            return None
        try:
            for term in terms:
                if any(str(raw.get("id")) == lead_id for raw in search(self.http, term)):
                    return False
        except Inconclusive:
            return None
        return True
