"""The state store: links with base snapshots, cursors, intents, runs, errors, events.

Every method is one short transaction in its own session, so a crash loses at most
the call in flight and a status command can read while a sync writes (SQLite runs
in WAL mode with a busy timeout; PostgreSQL by URL).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Table, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from nexasync.store import _intents
from nexasync.store._engine import StoreUrlError, make_engine
from nexasync.store._history import RETRY_BASE, RETRY_CAP, History, retry_delay
from nexasync.store._known import StoredKnownIds
from nexasync.store._links import (
    LINKS,
    SELECT_LINKS,
    delete_links,
    find_conflicts,
    link_by_id,
    link_from_row,
    links_by,
    write_links,
)
from nexasync.store._lock import PairLocked, pair_lock
from nexasync.store._migrate import migrate
from nexasync.store._sql import upsert_insert
from nexasync.store._trail import Trail
from nexasync.store._values import Event, Intent, Link, LinkConflict, RecordError, Run, StoreError
from nexasync.store.models import CursorRow, RecordErrorRow, UTCDateTime, utcnow

__all__ = [
    "Event",
    "Intent",
    "Link",
    "LinkConflict",
    "PairLocked",
    "RecordError",
    "Run",
    "StateStore",
    "StoreError",
    "StoreUrlError",
    "RETRY_BASE",
    "RETRY_CAP",
    "retry_delay",
]

#: Rows fetched per round trip when streaming links.
STREAM_CHUNK = 500

CURSORS: Table = CursorRow.__table__  # type: ignore[attr-defined]
ERRORS: Table = RecordErrorRow.__table__  # type: ignore[attr-defined]

_PAIR = LINKS.c.pair == bindparam("pair")
_LIVE = LINKS.c.lost.is_(None)
_COUNT = select(func.count()).select_from(LINKS).where(_PAIR)
_COUNT_LIVE = _COUNT.where(_LIVE)
_ALL = SELECT_LINKS.where(_PAIR).order_by(LINKS.c.id)
_HOLDING = SELECT_LINKS.where(_PAIR, LINKS.c.pending.is_not(None), _LIVE)
# An open error of one of the link's records waiting for its retry time.
_WAITING = (
    select(ERRORS.c.id)
    .where(
        ERRORS.c.pair == bindparam("pair"),
        ERRORS.c.resolved_at.is_(None),
        ERRORS.c.next_retry_at > bindparam("now", type_=UTCDateTime()),
        or_(ERRORS.c.record_id == LINKS.c.nexadesk_id, ERRORS.c.record_id == LINKS.c.crm_id),
    )
    .exists()
)
_PENDING = _HOLDING.order_by(LINKS.c.id)
_PENDING_DUE = _HOLDING.where(~_WAITING).order_by(LINKS.c.id)
_FOR_ID = SELECT_LINKS.where(
    or_(LINKS.c.nexadesk_id == bindparam("id"), LINKS.c.crm_id == bindparam("id"))
).order_by(LINKS.c.pair, LINKS.c.id)
_CURSOR = select(CURSORS.c.value).where(
    CURSORS.c.pair == bindparam("pair"), CURSORS.c.side == bindparam("side")
)


class StateStore(History, Trail):
    """Sync state of every pair, in one SQLite file or PostgreSQL database (by URL)."""

    def __init__(self, url: str) -> None:
        self._engine = make_engine(url)
        migrate(self._engine)
        cursor = upsert_insert(self._engine.dialect.name, CURSORS)
        self._set_cursor = cursor.on_conflict_do_update(
            index_elements=["pair", "side"],
            set_={"value": cursor.excluded.value, "updated_at": cursor.excluded.updated_at},
        )

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _session(self) -> Session:
        # Values handed out are copied from rows before return; keeping rows loaded
        # after commit just saves a pointless reload.
        return Session(self._engine, expire_on_commit=False)

    def _begin(self) -> AbstractContextManager[Connection]:
        """One transaction, committed on success and rolled back on error. The hot
        paths use Core on a plain connection: no ORM session or row objects."""
        return self._engine.begin()

    def pair_lock(self, pair: str) -> AbstractContextManager[None]:
        """Hold ``pair`` for one run; raises :class:`PairLocked` when another
        process (or thread) holds it. Released when the holder dies, too."""
        return pair_lock(self._engine, pair)

    # links

    def links_by_nexadesk(self, pair: str, ids: Iterable[str]) -> dict[str, Link]:
        """Links (lost ones too) of ``pair`` by NexaDesk id, for the ids that have one."""
        with self._begin() as conn:
            return links_by(conn, pair, "nexadesk_id", ids)

    def links_by_crm(self, pair: str, ids: Iterable[str]) -> dict[str, Link]:
        with self._begin() as conn:
            return links_by(conn, pair, "crm_id", ids)

    def link_count(self, pair: str, *, include_lost: bool = False) -> int:
        with self._begin() as conn:
            return int(conn.scalar(_COUNT if include_lost else _COUNT_LIVE, {"pair": pair}))

    def iter_links(self, pair: str) -> Iterator[Link]:
        """All links of ``pair`` (lost ones too), streamed in id order."""
        with self._begin() as conn:
            options = {"yield_per": STREAM_CHUNK}
            for row in conn.execute(_ALL, {"pair": pair}, execution_options=options):
                yield link_from_row(row)

    def save_links(self, links: Sequence[Link]) -> list[Link]:
        """Insert links whose id is None and update the others by id, all or nothing.

        Raises :class:`LinkConflict` (nothing saved) when a record id would be linked
        twice in one pair, :class:`StoreError` when a link to update does not exist.
        """
        if not links:
            return []
        try:
            with self._begin() as conn:
                return write_links(conn, links, utcnow())
        except IntegrityError:
            pass
        # Rolled back: say which ids clash, from what is stored now.
        with self._begin() as conn:
            raise LinkConflict(find_conflicts(conn, links)) from None

    def link_by_id(self, id: int) -> Link | None:
        with self._begin() as conn:
            return link_by_id(conn, id)

    def pending_links(self, pair: str, *, now: datetime | None = None) -> list[Link]:
        """Live links of ``pair`` holding pending state, in id order.

        With ``now``, a link is left out while an open error of one of its records
        waits for its retry time, so a failing record is retried with backoff
        instead of every cycle.
        """
        if now is None:
            stmt, params = _PENDING, {"pair": pair}
        else:
            stmt, params = _PENDING_DUE, {"pair": pair, "now": now}
        with self._begin() as conn:
            return [link_from_row(row) for row in conn.execute(stmt, params)]

    def delete_links(self, ids: Sequence[int]) -> None:
        with self._begin() as conn:
            delete_links(conn, ids)

    def known_ids(self, pair: str, side: Literal["nexadesk", "crm"]) -> StoredKnownIds:
        """The ids of ``side`` with a live (not lost) link in ``pair``."""
        return StoredKnownIds(self._engine, pair, side)

    def links_for_id(self, id: str) -> list[Link]:
        """Links in any pair, lost ones too, whose NexaDesk or CRM id is ``id``."""
        with self._begin() as conn:
            return [link_from_row(row) for row in conn.execute(_FOR_ID, {"id": id})]

    # cursors

    def get_cursor(self, pair: str, side: str) -> dict[str, Any] | None:
        with self._begin() as conn:
            value = conn.execute(_CURSOR, {"pair": pair, "side": side}).first()
        return None if value is None else dict(value[0])

    def set_cursor(self, pair: str, side: str, value: dict[str, Any]) -> None:
        row = {"pair": pair, "side": side, "value": value, "updated_at": utcnow()}
        with self._begin() as conn:
            conn.execute(self._set_cursor, row)

    # intents

    def add_intents(
        self, pair: str, target: str, op: str, items: Sequence[tuple[str, dict[str, Any]]]
    ) -> None:
        """Record writes about to be sent. Adding one again keeps its ``created_at``
        and takes the newer payload (the one about to be sent)."""
        with self._begin() as conn:
            _intents.add_intents(conn, pair, target, op, items)

    def clear_intents(self, pair: str, target: str, op: str, source_ids: Sequence[str]) -> None:
        with self._begin() as conn:
            _intents.clear_intents(conn, pair, target, op, source_ids)

    def open_intents(self, pair: str) -> list[Intent]:
        with self._begin() as conn:
            return _intents.open_intents(conn, pair)
