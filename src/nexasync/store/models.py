"""The state store's tables.

One row per linked lead pair (as vdirsyncer keeps one per item pair), plus the
cursors, write-ahead intents, runs, per-record errors and the event trail that
``nexasync explain`` reads. JSON columns use SQLAlchemy's generic ``JSON`` type,
which maps to a native type on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, whatever the backend keeps.

    SQLite has no time zone type and hands back naive values; PostgreSQL hands back
    the session's zone. Naive input is refused: a local time stored as UTC would
    silently shift retry times and run history.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass a timezone-aware one")
        value = value.astimezone(timezone.utc)
        # SQLite keeps text; without an offset every value sorts correctly as a string.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _ts(nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def _json(nullable: bool = False) -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=nullable))


class LinkRow(SQLModel, table=True):
    __tablename__ = "links"
    # Several NULLs never collide in a unique constraint (SQLite and PostgreSQL
    # alike), so a half-created link (one side only) needs no special case.
    __table_args__ = (
        UniqueConstraint("pair", "nexadesk_id", name="uq_links_pair_nexadesk"),
        UniqueConstraint("pair", "crm_id", name="uq_links_pair_crm"),
        # `explain` looks a lead up by id without knowing its pair.
        Index("ix_links_nexadesk_id", "nexadesk_id"),
        Index("ix_links_crm_id", "crm_id"),
        # Each cycle re-reads the (few) links holding pending state; this keeps that a
        # short index read instead of a scan of the pair.
        Index(
            "ix_links_pending",
            "pair",
            sqlite_where=text("pending IS NOT NULL"),
            postgresql_where=text("pending IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    pair: str = Field(nullable=False)
    nexadesk_id: str | None = None
    crm_id: str | None = None
    base_nexadesk: dict[str, Any] = _json()
    base_crm: dict[str, Any] = _json()
    nexadesk_version: str | None = None
    crm_version: str | None = None
    lost: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # SQL NULL (not JSON null) when nothing is pending, so the partial index applies.
    pending: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    updated_at: datetime = _ts()


class CursorRow(SQLModel, table=True):
    __tablename__ = "cursors"

    pair: str = Field(primary_key=True)
    side: str = Field(primary_key=True)
    value: dict[str, Any] = _json()
    updated_at: datetime = _ts()


class IntentRow(SQLModel, table=True):
    __tablename__ = "intents"
    __table_args__ = (UniqueConstraint("pair", "target", "op", "source_id", name="uq_intents_key"),)

    id: int | None = Field(default=None, primary_key=True)
    pair: str = Field(nullable=False)
    target: str = Field(nullable=False)
    op: str = Field(nullable=False)
    source_id: str = Field(nullable=False)
    payload: dict[str, Any] = _json()
    created_at: datetime = _ts()


class RunRow(SQLModel, table=True):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_pair_started", "pair", "started_at"),
        # The last successful cycle of a pair (readiness, metrics) without a scan.
        Index("ix_runs_pair_status_finished", "pair", "status", "finished_at"),
    )

    id: str = Field(primary_key=True)
    pair: str = Field(nullable=False)
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    status: str = Field(nullable=False)
    summary: dict[str, Any] = _json()
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class RecordErrorRow(SQLModel, table=True):
    __tablename__ = "record_errors"
    __table_args__ = (
        UniqueConstraint("pair", "side", "record_id", "op", name="uq_record_errors_key"),
        # The open errors of a pair (`errors list`).
        Index("ix_record_errors_pair_resolved", "pair", "resolved_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pair: str = Field(nullable=False)
    side: str = Field(nullable=False)
    record_id: str = Field(nullable=False)
    op: str = Field(nullable=False)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = Field(default=0, nullable=False)
    first_seen: datetime = _ts()
    last_seen: datetime = _ts()
    next_retry_at: datetime = _ts()
    resolved_at: datetime | None = _ts(nullable=True)


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_nexadesk_id", "nexadesk_id"),
        Index("ix_events_crm_id", "crm_id"),
        Index("ix_events_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(nullable=False)
    pair: str = Field(nullable=False)
    nexadesk_id: str | None = None
    crm_id: str | None = None
    action: str = Field(nullable=False)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    at: datetime = _ts()


#: Our tables: other SQLModel tables in the process are not ours. Their schema is made by
#: the migrations (store/migrations); a change here needs a new revision there.
TABLES = [
    model.__table__  # type: ignore[attr-defined]
    for model in (LinkRow, CursorRow, IntentRow, RunRow, RecordErrorRow, EventRow)
]
