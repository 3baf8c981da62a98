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

from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from nexasync.lead import to_json
from nexasync.store._engine import StoreUrlError, make_engine
from nexasync.store._history import RETRY_BASE, RETRY_CAP, History, retry_delay
from nexasync.store._known import StoredKnownIds
from nexasync.store._links import find_conflicts, links_by, write_links
from nexasync.store._lock import PairLocked, pair_lock
from nexasync.store._migrate import migrate
from nexasync.store._sql import chunks as _chunks
from nexasync.store._sql import upsert_insert
from nexasync.store._values import Event, Intent, Link, LinkConflict, RecordError, Run, StoreError
from nexasync.store.models import (
    CursorRow,
    IntentRow,
    LinkRow,
    RecordErrorRow,
    utcnow,
)

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


class StateStore(History):
    """Sync state of every pair, in one SQLite file or PostgreSQL database (by URL)."""

    def __init__(self, url: str) -> None:
        self._engine = make_engine(url)
        migrate(self._engine)

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

    def pair_lock(self, pair: str) -> AbstractContextManager[None]:
        """Hold ``pair`` for one run; raises :class:`PairLocked` when another
        process (or thread) holds it. Released when the holder dies, too."""
        return pair_lock(self._engine, pair)

    def _insert(self, model: Any) -> Any:
        return upsert_insert(self._engine, model)

    # links

    def links_by_nexadesk(self, pair: str, ids: Iterable[str]) -> dict[str, Link]:
        """Links (lost ones too) of ``pair`` by NexaDesk id, for the ids that have one."""
        with self._session() as session:
            return links_by(session, pair, col(LinkRow.nexadesk_id), ids)

    def links_by_crm(self, pair: str, ids: Iterable[str]) -> dict[str, Link]:
        with self._session() as session:
            return links_by(session, pair, col(LinkRow.crm_id), ids)

    def link_count(self, pair: str, *, include_lost: bool = False) -> int:
        stmt = select(func.count()).select_from(LinkRow).where(col(LinkRow.pair) == pair)
        if not include_lost:
            stmt = stmt.where(col(LinkRow.lost).is_(None))
        with self._session() as session:
            return session.exec(stmt).one()

    def iter_links(self, pair: str) -> Iterator[Link]:
        """All links of ``pair`` (lost ones too), streamed in id order."""
        stmt = select(LinkRow).where(col(LinkRow.pair) == pair).order_by(col(LinkRow.id))
        with self._session() as session:
            for row in session.exec(stmt.execution_options(yield_per=STREAM_CHUNK)):
                yield Link.from_row(row)

    def save_links(self, links: Sequence[Link]) -> list[Link]:
        """Insert links whose id is None and update the others by id, all or nothing.

        Raises :class:`LinkConflict` (nothing saved) when a record id would be linked
        twice in one pair, :class:`StoreError` when a link to update does not exist.
        """
        if not links:
            return []
        with self._session() as session:
            rows = write_links(session, links, utcnow())
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                raise LinkConflict(find_conflicts(session, links)) from None
            return [Link.from_row(row) for row in rows]

    def link_by_id(self, id: int) -> Link | None:
        with self._session() as session:
            row = session.get(LinkRow, id)
            return None if row is None else Link.from_row(row)

    def pending_links(self, pair: str, *, now: datetime | None = None) -> list[Link]:
        """Live links of ``pair`` holding pending state, in id order.

        With ``now``, a link is left out while an open error of one of its records
        waits for its retry time, so a failing record is retried with backoff
        instead of every cycle.
        """
        stmt = select(LinkRow).where(
            col(LinkRow.pair) == pair,
            col(LinkRow.pending).is_not(None),
            col(LinkRow.lost).is_(None),
        )
        if now is not None:
            waiting = (
                select(RecordErrorRow.id)
                .where(
                    col(RecordErrorRow.pair) == pair,
                    col(RecordErrorRow.resolved_at).is_(None),
                    col(RecordErrorRow.next_retry_at) > now,
                    or_(
                        col(RecordErrorRow.record_id) == col(LinkRow.nexadesk_id),
                        col(RecordErrorRow.record_id) == col(LinkRow.crm_id),
                    ),
                )
                .exists()
            )
            stmt = stmt.where(~waiting)
        with self._session() as session:
            return [Link.from_row(row) for row in session.exec(stmt.order_by(col(LinkRow.id)))]

    def delete_links(self, ids: Sequence[int]) -> None:
        with self._session() as session:
            for chunk in _chunks(ids):
                session.exec(delete(LinkRow).where(col(LinkRow.id).in_(chunk)))
            session.commit()

    def known_ids(self, pair: str, side: Literal["nexadesk", "crm"]) -> StoredKnownIds:
        """The ids of ``side`` with a live (not lost) link in ``pair``."""
        return StoredKnownIds(self._engine, pair, side)

    def links_for_id(self, id: str) -> list[Link]:
        """Links in any pair, lost ones too, whose NexaDesk or CRM id is ``id``."""
        stmt = (
            select(LinkRow)
            .where(or_(col(LinkRow.nexadesk_id) == id, col(LinkRow.crm_id) == id))
            .order_by(col(LinkRow.pair), col(LinkRow.id))
        )
        with self._session() as session:
            return [Link.from_row(row) for row in session.exec(stmt)]

    # cursors

    def get_cursor(self, pair: str, side: str) -> dict[str, Any] | None:
        with self._session() as session:
            row = session.get(CursorRow, (pair, side))
            return None if row is None else dict(row.value)

    def set_cursor(self, pair: str, side: str, value: dict[str, Any]) -> None:
        now = utcnow()
        stmt = self._insert(CursorRow).values(pair=pair, side=side, value=value, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["pair", "side"], set_={"value": value, "updated_at": now}
        )
        with self._session() as session:
            session.exec(stmt)
            session.commit()

    # intents

    def add_intents(
        self, pair: str, target: str, op: str, items: Sequence[tuple[str, dict[str, Any]]]
    ) -> None:
        """Record writes about to be sent. Adding one again keeps its ``created_at``
        and takes the newer payload (the one about to be sent)."""
        now = utcnow()
        # One statement may not touch a row twice (PostgreSQL): the last payload wins.
        latest = {source_id: payload for source_id, payload in items}
        rows = [
            {
                "pair": pair,
                "target": target,
                "op": op,
                "source_id": source_id,
                "payload": to_json(payload),
                "created_at": now,
            }
            for source_id, payload in latest.items()
        ]
        with self._session() as session:
            for chunk in _chunks(rows):
                stmt = self._insert(IntentRow).values(chunk)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["pair", "target", "op", "source_id"],
                    set_={"payload": stmt.excluded.payload},
                )
                session.exec(stmt)
            session.commit()

    def clear_intents(self, pair: str, target: str, op: str, source_ids: Sequence[str]) -> None:
        key = (
            col(IntentRow.pair) == pair,
            col(IntentRow.target) == target,
            col(IntentRow.op) == op,
        )
        with self._session() as session:
            for chunk in _chunks(source_ids):
                session.exec(delete(IntentRow).where(*key, col(IntentRow.source_id).in_(chunk)))
            session.commit()

    def open_intents(self, pair: str) -> list[Intent]:
        stmt = (
            select(IntentRow)
            .where(col(IntentRow.pair) == pair)
            .order_by(col(IntentRow.created_at), col(IntentRow.id))
        )
        with self._session() as session:
            return [Intent.from_row(row) for row in session.exec(stmt)]
