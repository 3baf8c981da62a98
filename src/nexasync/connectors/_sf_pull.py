"""Incremental reads of Leads, and the three ways a deletion shows.

* Soft deletes (recycle bin) come with every incremental ``queryAll``, as rows with
  ``IsDeleted`` set.
* Hard deletes (purged from the recycle bin) only show in getDeleted, asked at most
  every ``deleted_check_seconds`` so an idle cycle costs one request.
* When getDeleted cannot cover the time since the last check (its log was purged,
  or the gap is over its window), the live ids are compared with the known ones.

Each cycle reads what changed since ``overlap_seconds`` before the newest stamp seen, so
a late commit is not missed; a window larger than a page is checked with one aggregate
query instead (:mod:`._sf_window`). The cursor is ``{"watermark": max SystemModstamp
seen, "deleted_checked": when, "window": the large window remembered}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from nexasync.connectors._mapping import MappingError, Owners
from nexasync.connectors._prefetch import prefetched
from nexasync.connectors._sf_api import SalesforceApi, SalesforceApiError, soql_datetime, soql_quote
from nexasync.connectors._sf_mapping import LeadMapping
from nexasync.connectors._sf_window import Window, WindowTracker, floor_second
from nexasync.connectors.base import Cursor, KnownIds, Pull, Record

SYSTEM_FIELDS = ("Id", "IsDeleted", "IsConverted", "SystemModstamp", "LastModifiedDate")
#: getDeleted answers for no more than this far back.
DELETED_WINDOW = timedelta(days=30)
#: getDeleted refuses a window of a minute or less.
MIN_DELETED_WINDOW = timedelta(minutes=2)
ID_CHUNK = 200
#: Rows a query page holds unless a smaller batch is asked for.
PAGE = 2000

_OFFSET = re.compile(r"([+-]\d\d):?(\d\d)$")


def parse_sf_datetime(value: str | None) -> datetime | None:
    """Salesforce's ``2024-05-01T10:00:00.000+0000`` (or ISO with Z) as an aware datetime."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    text = _OFFSET.sub(r"\1:\2", text)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def read_record(row: Mapping[str, Any], mapping: LeadMapping, owners: Owners) -> Record:
    """A live Lead row as a :class:`Record` (``invalid`` when it cannot be read)."""
    id = str(row["Id"])
    version = row.get("SystemModstamp")
    try:
        modified = parse_sf_datetime(row.get("LastModifiedDate"))
        fields = mapping.read(row, owners)
    except (MappingError, ValueError) as exc:
        return Record(id, version=version, invalid=str(exc))
    if "assigned_rep_id" not in fields and (user := mapping.owner_of(row)):
        owners.defer(id, user)
    if row.get("IsConverted"):
        fields["pipeline_stage"] = "converted"
        return Record(id, fields, version, modified, read_only="converted")
    return Record(id, fields, version, modified)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value else None


class _Read:
    """What one pull has read so far."""

    def __init__(self, known: KnownIds, *, full_scan: bool, overlap: timedelta) -> None:
        self.known = known
        self.full_scan = full_scan
        # A full scan with known ids doubles as the hard-delete check: queryAll returns
        # every row not purged, so a known id it never shows was purged.
        self.seen: set[str] | None = set() if full_scan and known.count() else None
        self.gone: set[str] = set()
        self.high: datetime | None = None
        self.versions: dict[str, Any] = {}
        self.tracker = WindowTracker(overlap)


class LeadPuller:
    def __init__(
        self,
        api: SalesforceApi,
        mapping: LeadMapping,
        owners: Owners,
        *,
        overlap_seconds: int,
        deleted_check_seconds: int,
        clock: Callable[[], datetime],
        on_converted: Callable[[str], None],
        batch_size: int | None = None,
    ) -> None:
        self._api = api
        self._mapping = mapping
        self._owners = owners
        self._overlap = timedelta(seconds=overlap_seconds)
        self._check_every = timedelta(seconds=deleted_check_seconds)
        self._clock = clock
        self._on_converted = on_converted
        self._batch_size = batch_size

    def pull(self, cursor: Cursor | None, known: KnownIds) -> Pull:
        return Pull.deferred(lambda set_cursor: self._records(cursor or {}, known, set_cursor))

    def _records(
        self, cursor: Cursor, known: KnownIds, set_cursor: Callable[[Cursor], None]
    ) -> Iterator[Record]:
        started = self._clock()
        watermark = parse_sf_datetime(cursor.get("watermark"))
        last_check = parse_sf_datetime(cursor.get("deleted_checked"))
        window = Window.load(cursor.get("window")) if watermark is not None else None
        read = _Read(known, full_scan=watermark is None, overlap=self._overlap)
        if window is not None and watermark is not None:
            window, high = yield from self._checked_window(window, watermark, read)
        else:
            since = None if watermark is None else watermark - self._overlap
            yield from self._read(since, read)
            window, high = self._window_of(read, watermark)
        checked = last_check
        if read.seen is not None:
            for id in known:
                if id not in read.seen and id not in read.gone:
                    yield Record(id, deleted=True)
            checked = started
        elif read.full_scan or last_check is None or not known.count():
            checked = started
        elif started - last_check >= self._check_every:
            checked = yield from self._hard_deletes(last_check, started, known, read.gone)
        new: Cursor = {"watermark": _iso(high), "deleted_checked": _iso(checked)}
        if window is not None:
            new["window"] = window.dump()
        set_cursor(new)

    # -- the overlap window ----------------------------------------------------------------
    def _checked_window(
        self, window: Window, watermark: datetime, read: _Read
    ) -> Generator[Record, None, tuple[Window | None, datetime | None]]:
        """A large window: one aggregate query when nothing changed; the changes after
        the watermark when the window still holds exactly what we remember; the whole
        window again otherwise (see :mod:`._sf_window`). Returns it and the watermark."""
        start = soql_datetime(window.start)
        probe = next(iter(self._api.query_records(
            f"SELECT COUNT(Id), MAX(SystemModstamp) FROM Lead WHERE SystemModstamp >= {start}",
            include_deleted=True,
        )), {})
        count, newest = probe.get("expr0"), parse_sf_datetime(probe.get("expr1"))
        if count == window.count and newest == watermark:
            return window, watermark
        if window.ids is not None and newest is not None and newest > watermark:
            # Up to the probe's newest second: what changes meanwhile is the next cycle's.
            until = soql_datetime(floor_second(newest) + timedelta(seconds=1))
            changed = yield from self._read(
                watermark, read, inclusive=False, until=until, newest_first=True
            )
            grown = window.grown(changed)
            if grown.count == count:
                return grown, _latest(read.high, watermark)
        # A late commit, a purge or a window too large to remember: read it all again.
        yield from self._read(window.start, read)
        return self._window_of(read, watermark)

    def _window_of(
        self, read: _Read, watermark: datetime | None
    ) -> tuple[Window | None, datetime | None]:
        """The new watermark, from a read of the whole window: the newest stamp read (lower
        than before only when the newest rows were purged), and the window below it when
        it is larger than one page (a smaller one is simply read again each cycle, in the
        one request a cycle makes anyway)."""
        high = read.high or watermark
        window = read.tracker.window(high)
        page = self._batch_size or PAGE
        return (window if window is not None and window.count > page else None), high

    def _read(
        self, since: datetime | None, read: _Read, *, inclusive: bool = True,
        until: str | None = None, newest_first: bool = False,
    ) -> Generator[Record, None, set[str]]:
        """Rows stamped from ``since`` (all when None; after it unless ``inclusive``) and
        before ``until``, yielded as records once per version; returns their ids.

        Oldest first, to the end. ``newest_first`` is for the changes after a watermark:
        SOQL compares to the second, so the rows of the watermark's own second, read
        already, match too; newest first they come last, and the read stops at the
        first of them instead of paging through them."""
        soql = f"SELECT {', '.join(self._select())} FROM Lead"
        if since is not None:
            soql += f" WHERE SystemModstamp {'>=' if inclusive else '>'} {soql_datetime(since)}"
            if until is not None:
                soql += f" AND SystemModstamp < {until}"
        soql += " ORDER BY SystemModstamp DESC, Id DESC" if newest_first else \
            " ORDER BY SystemModstamp, Id"
        ids: set[str] = set()
        pages = self._api.query_pages(soql, include_deleted=True, batch_size=self._batch_size)
        # A read to the end can fetch its next page while this one is converted; one that
        # may stop early must not ask for a page it never reads.
        for page in pages if newest_first else prefetched(pages):
            for row in page:
                id, version = str(row["Id"]), row.get("SystemModstamp")
                stamp = parse_sf_datetime(version)
                if newest_first and since is not None and stamp is not None and stamp <= since:
                    return ids
                ids.add(id)
                read.tracker.add(stamp, id)
                if stamp and (read.high is None or stamp > read.high):
                    read.high = stamp
                if read.versions.get(id) == version:
                    continue  # read already this cycle (the window after the changes)
                read.versions[id] = version
                if row.get("IsDeleted"):
                    if id in read.known and id not in read.gone:
                        read.gone.add(id)
                        yield Record(id, deleted=True)
                    continue
                if read.seen is not None:
                    read.seen.add(id)
                if row.get("IsConverted"):
                    self._on_converted(id)
                yield read_record(row, self._mapping, self._owners)
        return ids

    def _select(self) -> list[str]:
        return [*self._mapping.sf_fields, *(f for f in SYSTEM_FIELDS
                                            if f not in self._mapping.sf_fields)]

    # -- hard deletes --------------------------------------------------------------------
    def _hard_deletes(
        self, since: datetime, now: datetime, known: KnownIds, gone: set[str]
    ) -> Generator[Record, None, datetime]:
        if now - since > DELETED_WINDOW:
            yield from self._compare_ids(known, gone)
            return now
        try:
            answer = self._api.get_deleted(min(since, now - MIN_DELETED_WINDOW), now)
        except SalesforceApiError as exc:
            if exc.code != "INVALID_REPLICATION_DATE":
                raise
            yield from self._compare_ids(known, gone)
            return now
        earliest = parse_sf_datetime(answer.get("earliestDateAvailable"))
        if earliest is not None and earliest > since:
            yield from self._compare_ids(known, gone)
            return now
        candidates = sorted({
            str(r["id"]) for r in answer.get("deletedRecords") or []
            if r.get("id") and str(r["id"]) in known and str(r["id"]) not in gone
        })
        # A record restored from the recycle bin stays in the delete log: only ids
        # that are not live now are deletions.
        live = self._live(candidates)
        for id in candidates:
            if id not in live:
                gone.add(id)
                yield Record(id, deleted=True)
        covered = parse_sf_datetime(answer.get("latestDateCovered"))
        return min(covered, now) if covered else now

    def _live(self, ids: list[str]) -> set[str]:
        live: set[str] = set()
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ", ".join(soql_quote(i) for i in ids[start:start + ID_CHUNK])
            for row in self._api.query_records(f"SELECT Id FROM Lead WHERE Id IN ({chunk})"):
                live.add(str(row["Id"]))
        return live

    def _compare_ids(self, known: KnownIds, gone: set[str]) -> Iterator[Record]:
        missing = {id for id in known if id not in gone}
        for row in self._api.query_records("SELECT Id FROM Lead"):
            missing.discard(str(row["Id"]))
        for id in sorted(missing):
            gone.add(id)
            yield Record(id, deleted=True)
