"""One side's pulled records, held compactly until the cycle reaches them.

A first sync reads every lead of a side; holding each as a :class:`Record` with its
field dict costs a few kilobytes a lead, so 100,000 leads would not fit a small
container. The spool keeps each record as one ``marshal``-ed tuple (a few hundred
bytes) and decodes it only when the cycle plans the chunk it belongs to, so what
is alive at once is a chunk's worth of records and plan items.

It also answers what the chunking needs without decoding anything: which records
share a normalised email (they must be planned together, or two of them could be
paired with the same lead), which carry merged ids, and which could not be read.
"""

from __future__ import annotations

import marshal
import pickle
from collections.abc import Iterator
from datetime import datetime, timezone

from nexasync.connectors.base import Record
from nexasync.lead import FIELDS, norm_email

_MARSHAL, _PICKLE = b"m", b"p"
_CANONICAL = frozenset(FIELDS)
#: A field the record does not hold (unknown), as opposed to one it holds blank.
_ABSENT = ...


def _encode(record: Record) -> bytes:
    when = record.modified_at
    fields = record.fields
    # Values in the canonical order, not a dict: the field names are not stored again
    # with every record. A name outside the canonical ones keeps the dict form.
    values: object = (
        tuple(fields.get(name, _ABSENT) for name in FIELDS)
        if fields.keys() <= _CANONICAL else dict(fields)
    )
    row = (
        values,
        record.version,
        # A timestamp survives marshal; the instant is what merges compare.
        None if when is None else when.timestamp(),
        record.deleted,
        record.read_only,
        record.invalid,
        record.merged_ids,
    )
    try:
        return _MARSHAL + marshal.dumps(row)
    except ValueError:  # a value marshal cannot hold (a connector's own type): still kept
        return _PICKLE + pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)


def _decode(id: str, data: bytes) -> Record:
    kind, body = data[:1], data[1:]
    row = marshal.loads(body) if kind == _MARSHAL else pickle.loads(body)
    values, version, when, deleted, read_only, invalid, merged = row
    fields = (
        {name: v for name, v in zip(FIELDS, values) if v is not _ABSENT}
        if isinstance(values, tuple) else values
    )
    return Record(
        id,
        fields,
        version,
        None if when is None else datetime.fromtimestamp(when, timezone.utc),
        deleted,
        read_only,
        invalid,
        tuple(merged),
    )


class Spool:
    """Records of one side by id, in the order read; a record read twice (a page that
    shifted while paginating) keeps its latest reading."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        #: Normalised email -> the id holding it, or the ids when several do.
        self._by_email: dict[str, str | list[str]] = {}
        self._email_of: dict[str, str] = {}
        #: Ids of records that could not be read into the canonical shape.
        self.invalid: set[str] = set()
        #: Ids of records naming others merged into them (a CRM merge).
        self.merged: set[str] = set()

    def add(self, record: Record) -> None:
        self._forget_email(record.id)
        self._data[record.id] = _encode(record)
        self.invalid.discard(record.id)
        self.merged.discard(record.id)
        if record.invalid is not None:
            self.invalid.add(record.id)
        if record.merged_ids and not record.deleted:
            self.merged.add(record.id)
        email = None if record.deleted else norm_email(record.fields.get("visitor_email"))
        if email:
            self._email_of[record.id] = email
            held = self._by_email.get(email)
            if held is None:
                self._by_email[email] = record.id  # the common case: no list to keep
            elif isinstance(held, str):
                self._by_email[email] = [held, record.id]
            else:
                held.append(record.id)

    def _forget_email(self, id: str) -> None:
        email = self._email_of.pop(id, None)
        if email is None:
            return
        held = self._by_email[email]
        if isinstance(held, str):
            del self._by_email[email]
            return
        held.remove(id)
        if len(held) == 1:
            self._by_email[email] = held[0]

    def get(self, id: str) -> Record | None:
        data = self._data.get(id)
        return None if data is None else _decode(id, data)

    def records(self, ids: Iterator[str] | list[str]) -> dict[str, Record]:
        return {id: _decode(id, self._data[id]) for id in ids if id in self._data}

    def ids(self) -> list[str]:
        return list(self._data)

    def email_of(self, id: str) -> str | None:
        return self._email_of.get(id)

    def with_email(self, email: str) -> list[str]:
        """Ids of the records (deleted ones aside) whose normalised email is ``email``."""
        held = self._by_email.get(email)
        if held is None:
            return []
        return [held] if isinstance(held, str) else list(held)

    def has_email(self, email: str | None) -> bool:
        return email is not None and email in self._by_email

    def __contains__(self, id: object) -> bool:
        return id in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)


__all__ = ["Spool"]
