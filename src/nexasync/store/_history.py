"""Run history and per-record errors with retry backoff.

Mixed into :class:`~nexasync.store.store.StateStore`; kept apart so each module
holds one concern.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, bindparam, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from nexasync.logs import scrub
from nexasync.store._sql import chunks as _chunks
from nexasync.store._values import RecordError, Run, StoreError
from nexasync.store.models import RecordErrorRow, RunRow, UTCDateTime, utcnow

#: First retry delay of a failed record; doubles per attempt up to the cap.
RETRY_BASE = timedelta(seconds=60)
RETRY_CAP = timedelta(hours=6)
#: The op of an error about a record that could not be read (not a write).
READ_OP = "read"
RUN_STATUSES = frozenset({"running", "ok", "failed", "partial", "crashed", "interrupted"})


def retry_delay(attempts: int) -> timedelta:
    """Backoff after the ``attempts``-th failure of a record: 60 s, 120 s, ... 6 h."""
    return min(RETRY_BASE * 2 ** min(max(attempts - 1, 0), 32), RETRY_CAP)


# Core statements, built once, for the calls a sync makes per write batch or per
# failed record: no ORM rows, and a cached compiled form per statement.
ERRORS: Table = RecordErrorRow.__table__  # type: ignore[attr-defined]
_ERROR_KEY = (
    ERRORS.c.pair == bindparam("pair"),
    ERRORS.c.side == bindparam("side"),
    ERRORS.c.record_id == bindparam("record_id"),
    ERRORS.c.op == bindparam("op"),
)
_ERROR = (
    core_select(ERRORS.c.id, ERRORS.c.attempts, ERRORS.c.resolved_at)
    .where(*_ERROR_KEY)
    .with_for_update()
)
_INSERT_ERROR = insert(ERRORS)
_UPDATE_ERROR = update(ERRORS).where(ERRORS.c.id == bindparam("error_id"))
# Bound names differ from the columns': an UPDATE keeps those for its SET clause.
_RESOLVE = (
    update(ERRORS)
    .where(
        ERRORS.c.pair == bindparam("b_pair"),
        ERRORS.c.side == bindparam("b_side"),
        ERRORS.c.resolved_at.is_(None),
        ERRORS.c.record_id.in_(bindparam("b_ids", expanding=True)),
    )
    .values(resolved_at=bindparam("b_now", type_=UTCDateTime()))
)
_RESOLVE_OP = _RESOLVE.where(ERRORS.c.op == bindparam("b_op"))


class History:
    """Runs, record errors and events; the host class supplies sessions."""

    _engine: Engine

    def _session(self) -> Session:
        raise NotImplementedError

    # runs

    def start_run(self, pair: str, run_id: str) -> None:
        """Record a run as started; runs of ``pair`` still "running" never finished
        (their process died), so they are marked "crashed"."""
        crashed = (
            update(RunRow)
            .where(col(RunRow.pair) == pair, col(RunRow.status) == "running")
            .values(status="crashed", error="the run ended without being recorded as finished")
        )
        with self._session() as session:
            session.exec(crashed)
            session.add(RunRow(id=run_id, pair=pair, started_at=utcnow(), status="running"))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                raise StoreError(f"run id {run_id!r} is already recorded") from None

    def finish_run(
        self, run_id: str, status: str, summary: dict[str, Any], error: str | None = None
    ) -> None:
        if status not in RUN_STATUSES - {"running"}:
            raise ValueError(f"not a finished run status: {status!r}")
        with self._session() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise StoreError(f"no run {run_id!r} to finish")
            # Error texts come from libraries' exceptions: no known secret is stored.
            row.status, row.summary = status, summary
            row.error = scrub(error) if error is not None else None
            row.finished_at = utcnow()
            session.add(row)
            session.commit()

    def last_runs(self, pair: str | None = None, limit: int = 10) -> list[Run]:
        """Newest first."""
        stmt = select(RunRow).order_by(col(RunRow.started_at).desc(), col(RunRow.id).desc())
        if pair is not None:
            stmt = stmt.where(col(RunRow.pair) == pair)
        with self._session() as session:
            return [Run.from_row(row) for row in session.exec(stmt.limit(limit))]

    def last_finished(
        self, pairs: Iterable[str], statuses: Collection[str]
    ) -> dict[str, datetime]:
        """pair -> when its newest run with one of ``statuses`` finished; pairs without
        one are absent. One short index read per pair (runs of (pair, status) by
        finished_at), however long the history: /readyz and /metrics ask every scrape."""
        out: dict[str, datetime] = {}
        with self._session() as session:
            for pair in pairs:
                stmt = (
                    select(RunRow.finished_at)
                    .where(
                        col(RunRow.pair) == pair,
                        col(RunRow.status).in_(list(statuses)),
                        col(RunRow.finished_at).is_not(None),
                    )
                    .order_by(col(RunRow.finished_at).desc())
                    .limit(1)
                )
                when = session.exec(stmt).first()
                if when is not None:
                    out[pair] = when
        return out

    # record errors

    def record_error(
        self,
        pair: str,
        side: str,
        record_id: str,
        op: str,
        reason: str,
        *,
        now: datetime | None = None,
    ) -> None:
        """Count one more failure of a record and schedule its retry with backoff.

        A record that fails again after its error was resolved starts a fresh count:
        an old, fixed problem must not delay the retry of a new one by hours.
        """
        now = now or utcnow()
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        reason = scrub(reason)
        try:
            self._record_error(pair, side, record_id, op, reason, now)
        except IntegrityError:
            # Another process inserted the same error between our read and write:
            # the row exists now, so counting again updates it.
            self._record_error(pair, side, record_id, op, reason, now)

    def _record_error(
        self, pair: str, side: str, record_id: str, op: str, reason: str, now: datetime
    ) -> None:
        key = {"pair": pair, "side": side, "record_id": record_id, "op": op}
        with self._engine.begin() as conn:
            row = conn.execute(_ERROR, key).first()
            # A first failure, or one after the error was resolved, starts a count.
            fresh = row is None or row.attempts == 0 or row.resolved_at is not None
            attempts = 1 if fresh else row.attempts + 1
            values = {
                "reason": reason,
                "attempts": attempts,
                "last_seen": now,
                "next_retry_at": now + retry_delay(attempts),
                "resolved_at": None,
            }
            if fresh:
                values["first_seen"] = now
            if row is None:
                conn.execute(_INSERT_ERROR, {**key, **values})
            else:
                conn.execute(_UPDATE_ERROR, {"error_id": row.id, **values})

    def resolve_errors(
        self, pair: str, side: str, record_ids: Sequence[str], op: str | None = None
    ) -> None:
        stmt = _RESOLVE if op is None else _RESOLVE_OP
        params: dict[str, object] = {"b_pair": pair, "b_side": side, "b_now": utcnow()}
        if op is not None:
            params["b_op"] = op
        with self._engine.begin() as conn:
            for chunk in _chunks(record_ids):
                conn.execute(stmt, {**params, "b_ids": chunk})

    def open_errors(self, pair: str | None = None) -> list[RecordError]:
        """Unresolved errors, soonest retry first."""
        stmt = (
            select(RecordErrorRow)
            .where(col(RecordErrorRow.resolved_at).is_(None))
            .order_by(col(RecordErrorRow.next_retry_at), col(RecordErrorRow.id))
        )
        if pair is not None:
            stmt = stmt.where(col(RecordErrorRow.pair) == pair)
        with self._session() as session:
            return [RecordError.from_row(row) for row in session.exec(stmt)]

    def list_errors(
        self, pair: str | None = None, *, include_resolved: bool = False
    ) -> list[RecordError]:
        """Open errors soonest retry first; with ``include_resolved``, the resolved ones
        after them, most recently resolved first."""
        errors = self.open_errors(pair)
        if include_resolved:
            stmt = (
                select(RecordErrorRow)
                .where(col(RecordErrorRow.resolved_at).is_not(None))
                .order_by(col(RecordErrorRow.resolved_at).desc(), col(RecordErrorRow.id))
            )
            if pair is not None:
                stmt = stmt.where(col(RecordErrorRow.pair) == pair)
            with self._session() as session:
                errors += [RecordError.from_row(row) for row in session.exec(stmt)]
        return errors

    def errors_by_id(self, ids: Iterable[int]) -> dict[int, RecordError]:
        """The errors (open or resolved) with these ids; unknown ids are left out."""
        out: dict[int, RecordError] = {}
        with self._session() as session:
            for chunk in _chunks(set(ids)):
                stmt = select(RecordErrorRow).where(col(RecordErrorRow.id).in_(chunk))
                for row in session.exec(stmt):
                    assert row.id is not None
                    out[row.id] = RecordError.from_row(row)
        return out

    def retry_errors(
        self,
        ids: Sequence[int] | None = None,
        *,
        pair: str | None = None,
        now: datetime | None = None,
    ) -> list[RecordError]:
        """Make open errors due at ``now``, so the next cycle retries their records
        instead of waiting out the backoff; their attempt counts stay.

        ``ids`` None means every open error (of ``pair``). Read errors are left as they
        are: an unreadable record is read again only when it changes in its system, so
        a due time changes nothing for it. Returns the errors made due.
        """
        now = now or utcnow()
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        where = [
            col(RecordErrorRow.resolved_at).is_(None),
            col(RecordErrorRow.op) != READ_OP,
        ]
        if pair is not None:
            where.append(col(RecordErrorRow.pair) == pair)
        chosen: list[Sequence[int] | None] = [None] if ids is None else list(_chunks(ids))
        retried: list[RecordError] = []
        with self._session() as session:
            for chunk in chosen:
                stmt = select(RecordErrorRow).where(*where)
                if chunk is not None:
                    stmt = stmt.where(col(RecordErrorRow.id).in_(chunk))
                for row in session.exec(stmt.with_for_update()):
                    row.next_retry_at = now
                    session.add(row)
                    retried.append(RecordError.from_row(row))
            session.commit()
        return sorted(retried, key=lambda e: e.id or 0)

    def resolve_read_errors(self, pair: str, side: str, readable: Iterable[str]) -> int:
        """Resolve the open read errors of records of ``side`` that were just read
        fine (fixed at the source, or deleted); returns how many. Reads the (few) open
        read errors first, so a cycle with none costs one short query."""
        stmt = select(RecordErrorRow.record_id).where(
            col(RecordErrorRow.pair) == pair,
            col(RecordErrorRow.side) == side,
            col(RecordErrorRow.op) == READ_OP,
            col(RecordErrorRow.resolved_at).is_(None),
        )
        with self._session() as session:
            open_ids = set(session.exec(stmt))
        fixed = sorted(open_ids.intersection(readable)) if open_ids else []
        if fixed:
            self.resolve_errors(pair, side, fixed, READ_OP)
        return len(fixed)
