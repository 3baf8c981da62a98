"""Incremental reads of Leads, and the three ways a deletion shows.

* Soft deletes (recycle bin) come with every incremental ``queryAll``, as rows with
  ``IsDeleted`` set.
* Hard deletes (purged from the recycle bin) only show in getDeleted, asked at most
  every ``deleted_check_seconds`` so an idle cycle costs one request.
* When getDeleted cannot cover the time since the last check (its log was purged,
  or the gap is over its window), the live ids are compared with the known ones.

The cursor is ``{"watermark": max SystemModstamp seen, "deleted_checked": when}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from nexasync.connectors._mapping import MappingError, Owners
from nexasync.connectors._sf_api import SalesforceApi, SalesforceApiError, soql_datetime, soql_quote
from nexasync.connectors._sf_mapping import LeadMapping
from nexasync.connectors.base import Cursor, KnownIds, Pull, Record

SYSTEM_FIELDS = ("Id", "IsDeleted", "IsConverted", "SystemModstamp", "LastModifiedDate")
#: getDeleted answers for no more than this far back.
DELETED_WINDOW = timedelta(days=30)
#: getDeleted refuses a window of a minute or less.
MIN_DELETED_WINDOW = timedelta(minutes=2)
ID_CHUNK = 200

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
    if row.get("IsConverted"):
        fields["pipeline_stage"] = "converted"
        return Record(id, fields, version, modified, read_only="converted")
    return Record(id, fields, version, modified)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value else None


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
        full_scan = watermark is None
        # A full scan with known ids doubles as the hard-delete check: queryAll returns
        # every row not purged, so a known id it never shows was purged.
        seen: set[str] | None = set() if full_scan and known.count() else None
        gone: set[str] = set()
        soql = f"SELECT {', '.join(self._select())} FROM Lead"
        if watermark is not None:
            soql += f" WHERE SystemModstamp >= {soql_datetime(watermark - self._overlap)}"
        soql += " ORDER BY SystemModstamp, Id"
        high = watermark
        for page in self._api.query_pages(soql, include_deleted=True,
                                          batch_size=self._batch_size):
            for row in page:
                stamp = parse_sf_datetime(row.get("SystemModstamp"))
                if stamp and (high is None or stamp > high):
                    high = stamp
                id = str(row["Id"])
                if row.get("IsDeleted"):
                    if id in known and id not in gone:
                        gone.add(id)
                        yield Record(id, deleted=True)
                    continue
                if seen is not None:
                    seen.add(id)
                if row.get("IsConverted"):
                    self._on_converted(id)
                yield read_record(row, self._mapping, self._owners)
        checked = last_check
        if seen is not None:
            for id in known:
                if id not in seen and id not in gone:
                    yield Record(id, deleted=True)
            checked = started
        elif full_scan or last_check is None or not known.count():
            checked = started
        elif started - last_check >= self._check_every:
            checked = yield from self._hard_deletes(last_check, started, known, gone)
        set_cursor({"watermark": _iso(high), "deleted_checked": _iso(checked)})

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
