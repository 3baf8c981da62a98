"""The connector contract: the one small base class every system implements.

The engine never speaks a system's API; it asks a connector for what changed
since a cursor, and hands it batches of creates, updates and deletes, getting a
result per record back. Everything is in the canonical lead shape
(:mod:`nexasync.lead`); converting to and from the system's own records is the
connector's job, and so is its incremental and deletion-detection strategy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from nexasync.lead import Lead

Cursor = dict[str, Any]
"""A connector's incremental state: JSON-safe, opaque to the engine."""


@dataclass(frozen=True)
class Record:
    """One lead as a system holds it, or the news that it is gone."""

    id: str
    fields: Lead = field(default_factory=dict)
    #: The system's modification stamp (``updated_at``, ``SystemModstamp``): the engine
    #: skips a record whose version equals the one it last synced.
    version: str | None = None
    #: When the record was last changed, for "newest change wins".
    modified_at: datetime | None = None
    #: A *confirmed* deletion: the connector has made sure the record no longer exists.
    deleted: bool = False
    #: Why this record must never be written to (e.g. a converted Salesforce lead).
    read_only: str | None = None
    #: Why this record could not be read into the canonical shape; it is reported, not synced.
    invalid: str | None = None
    #: Ids of records that were merged into this one (a CRM merge): they are gone, but
    #: not deleted — their links move to this record.
    merged_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreateItem:
    #: The id of the record on the other side that this create copies; connectors that
    #: support an external-id upsert use it to make the create idempotent.
    source_id: str
    fields: Lead


@dataclass(frozen=True)
class UpdateItem:
    id: str
    #: Only the fields that change, canonical; ``None`` clears a field.
    fields: Lead


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one record of a batch write."""

    ok: bool
    id: str | None = None
    #: The record as the system holds it after the write, when the API answers it.
    record: Record | None = None
    error: str | None = None
    #: The target does not exist (any more): a 404 on update or delete.
    gone: bool = False
    #: Whether trying the same write again later may succeed (rate limits, outages),
    #: as opposed to a record the system refuses as it is (validation).
    retryable: bool = False
    #: The write was not sent because of a rule, not an error (e.g. a converted lead).
    skipped: str | None = None

    @classmethod
    def failed(cls, id: str | None, error: str, *, retryable: bool = False) -> WriteResult:
        return cls(ok=False, id=id, error=error, retryable=retryable)


@dataclass(frozen=True)
class Check:
    """One finding of :meth:`Connector.check` (``nexasync check``): what was checked on
    which system, whether it passed, and in words an operator can act on (naming the
    config key to fix, never a secret's value)."""

    system: str
    name: str
    ok: bool
    detail: str = ""


class KnownIds(Protocol):
    """The ids of one side that the state store knows (linked or pending)."""

    def count(self) -> int: ...

    def __iter__(self) -> Iterator[str]: ...

    def __contains__(self, item: object) -> bool: ...

    def base(self, id: str) -> Lead | None:
        """The fields this side held for ``id`` at the last sync (None when unknown):
        lets a connector confirm a deletion with a targeted search."""
        ...


class Pull:
    """A pull in progress: iterate :attr:`records`; afterwards :attr:`cursor` is set.

    The engine stores :attr:`cursor` only after the cycle's writes are recorded, so a
    crash re-reads the same changes instead of losing them.
    """

    def __init__(self, records: Iterable[Record]) -> None:
        self._records = iter(records)
        self.cursor: Cursor | None = None
        #: False when the connector could not read everything it should have (e.g. a
        #: scan that changed under it): deletions must then not be inferred from it.
        self.complete = True

    def __iter__(self) -> Iterator[Record]:
        return self._records

    @classmethod
    def deferred(cls, produce: Callable[[Callable[[Cursor], None]], Iterable[Record]]) -> Pull:
        """A pull whose generator learns its cursor as it goes: ``produce`` gets the
        setter to call once the records it yields are all read."""
        pull: Pull

        def set_cursor(value: Cursor) -> None:
            pull.cursor = value

        pull = cls(produce(set_cursor))
        return pull


class Connector(ABC):
    """One system. Subclasses set the class attributes and implement the hooks."""

    #: "nexadesk", "salesforce", "hubspot": names the system in logs, state and output.
    system: ClassVar[str]
    #: The most records one create/update/delete call may carry.
    write_batch_size: ClassVar[int] = 1

    @abstractmethod
    def pull(self, cursor: Cursor | None, known: KnownIds) -> Pull:
        """Records changed since ``cursor`` (all records when it is ``None``), streamed
        page by page, plus confirmed deletions of ``known`` ids."""

    @abstractmethod
    def create(self, items: Sequence[CreateItem]) -> list[WriteResult]:
        """Create records; one result per item, in order."""

    @abstractmethod
    def update(self, items: Sequence[UpdateItem]) -> list[WriteResult]:
        """Change only the given fields; one result per item, in order."""

    @abstractmethod
    def delete(self, ids: Sequence[str]) -> list[WriteResult]:
        """Delete records; a record already gone is a success with ``gone=True``."""

    @abstractmethod
    def match(self, leads: Sequence[Lead]) -> list[list[Record]]:
        """For each lead, the existing records that may be the same person (same
        normalised email; same name when there is no email). Used before creating,
        so a first sync or a create whose answer was lost makes no duplicate."""

    @abstractmethod
    def project(self, lead: Lead) -> Lead:
        """``lead`` as it reads back after a round trip through this system.

        Lossy mappings (a truncated name, a many-to-one stage map, a placeholder
        company) make this differ from ``lead``; the engine compares through it so a
        value that comes back changed only by the mapping is never written back."""

    def check(self) -> list[Check]:
        """Verify, changing nothing, that a sync can run: the system answers, the
        credentials are accepted, the permissions the sync needs are granted and every
        mapped field exists and is writable. Problems are findings, never raised.
        A connector with nothing to check has no findings."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
