"""Plain value objects the store hands out, and the errors it raises.

The engine never sees ORM rows: a row object outlives its session badly and would
tie the engine to SQLAlchemy's unit-of-work rules.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from nexasync.lead import Lead, from_json
from nexasync.store.models import EventRow, RecordErrorRow, RunRow


def _copy(cls: Any, row: Any, **converted: Any) -> Any:
    """A value object from an ORM row: same-named columns copied, ``converted`` as given."""
    values = {f.name: getattr(row, f.name) for f in fields(cls) if f.name not in converted}
    return cls(**values, **converted)


class StoreError(Exception):
    """The state store refused an operation (the message says which and why)."""


class LinkConflict(StoreError):
    """Saving links would give one record of a pair two links; nothing was saved."""

    def __init__(self, conflicts: list[str]) -> None:
        #: One line per clash, naming the pair, the side, the record id and the links.
        self.conflicts = conflicts
        listed = "; ".join(conflicts) if conflicts else "a unique key is already taken"
        super().__init__(f"link conflict, no link of the batch saved: {listed}")


@dataclass(frozen=True)
class Link:
    id: int | None
    pair: str
    nexadesk_id: str | None
    crm_id: str | None
    #: Canonical fields as each side held them after the last sync (tags as tuples).
    base_nexadesk: Lead
    base_crm: Lead
    nexadesk_version: str | None
    crm_version: str | None
    #: Why the link is no longer synced (e.g. "deleted in salesforce"); None when live.
    lost: str | None
    #: What each side held when a write for this link failed, kept so the next cycle
    #: retries it without re-reading: ``{side: {"fields": Lead, ...}}``; None when not.
    pending: dict[str, Any] | None = None


def pending_from_json(data: dict[str, Any] | None) -> dict[str, Any] | None:
    # Leads inside come back in canonical form (tags as tuples), like the bases.
    if data is None:
        return None
    return {
        side: (
            {**state, "fields": from_json(state["fields"])}
            if isinstance(state, dict) and isinstance(state.get("fields"), dict)
            else state
        )
        for side, state in data.items()
    }


@dataclass(frozen=True)
class Intent:
    pair: str
    target: str
    op: str
    source_id: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Run:
    id: str
    pair: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    summary: dict[str, Any]
    error: str | None

    @classmethod
    def from_row(cls, row: RunRow) -> Run:
        return _copy(cls, row, summary=dict(row.summary or {}))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RecordError:
    pair: str
    side: str
    record_id: str
    op: str
    reason: str
    attempts: int
    first_seen: datetime
    last_seen: datetime
    next_retry_at: datetime
    resolved_at: datetime | None
    #: The row's id: how ``nexasync errors retry`` names an error.
    id: int | None = None

    @classmethod
    def from_row(cls, row: RecordErrorRow) -> RecordError:
        return _copy(cls, row)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Event:
    id: int
    run_id: str
    pair: str
    nexadesk_id: str | None
    crm_id: str | None
    action: str
    detail: str
    at: datetime

    @classmethod
    def from_row(cls, row: EventRow) -> Event:
        assert row.id is not None  # rows read back from the database always have one
        return _copy(cls, row)  # type: ignore[no-any-return]
