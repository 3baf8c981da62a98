"""The event trail that ``nexasync explain`` reads, and forgetting old history.

Mixed into :class:`~nexasync.store.store.StateStore` beside
:class:`~nexasync.store._history.History`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, Table, delete, insert, or_
from sqlmodel import Session, col, select

from nexasync.logs import scrub
from nexasync.store._bulk import executemany
from nexasync.store._values import Event
from nexasync.store.models import EventRow, RecordErrorRow, RunRow, utcnow

EVENTS: Table = EventRow.__table__  # type: ignore[attr-defined]
# Built once: a sync adds events per write batch, as one executemany.
_ADD_EVENTS = insert(EVENTS)


class Trail:
    """Events and history pruning; the host class supplies the engine and sessions."""

    _engine: Engine

    def _session(self) -> Session:
        raise NotImplementedError

    def add_events(
        self,
        run_id: str,
        pair: str,
        events: Sequence[tuple[str | None, str | None, str, str]],
    ) -> None:
        """Record (nexadesk_id, crm_id, action, detail) for ``nexasync explain``."""
        if not events:
            return
        now = utcnow()
        rows = [
            {
                "run_id": run_id,
                "pair": pair,
                "nexadesk_id": nexadesk_id,
                "crm_id": crm_id,
                "action": action,
                "detail": scrub(detail),
                "at": now,
            }
            for nexadesk_id, crm_id, action, detail in events
        ]
        with self._engine.begin() as conn:
            executemany(conn, _ADD_EVENTS, rows)

    def events_for(self, id: str, limit: int = 50) -> list[Event]:
        """Events of the lead with NexaDesk or CRM id ``id``, newest first."""
        stmt = (
            select(EventRow)
            .where(or_(col(EventRow.nexadesk_id) == id, col(EventRow.crm_id) == id))
            .order_by(col(EventRow.at).desc(), col(EventRow.id).desc())
            .limit(limit)
        )
        with self._session() as session:
            return [Event.from_row(row) for row in session.exec(stmt)]

    def prune_history(self, before: datetime) -> dict[str, int]:
        """Forget what only tells the past: events, finished runs and resolved record
        errors older than ``before``. A service adds a run every few minutes and events
        for every write, forever; links, cursors and open errors are never touched."""
        statements = {
            "events": delete(EventRow).where(col(EventRow.at) < before),
            "runs": delete(RunRow).where(
                col(RunRow.finished_at).is_not(None), col(RunRow.finished_at) < before
            ),
            "record_errors": delete(RecordErrorRow).where(
                col(RecordErrorRow.resolved_at).is_not(None),
                col(RecordErrorRow.resolved_at) < before,
            ),
        }
        gone: dict[str, int] = {}
        with self._session() as session:
            for name, stmt in statements.items():
                gone[name] = int(session.exec(stmt).rowcount or 0)  # type: ignore[call-overload]
            session.commit()
        return gone
