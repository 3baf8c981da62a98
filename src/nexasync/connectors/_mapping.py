"""What the CRM mappings share: their error, the owner resolution they use, and the
loop that reads a CRM record into a canonical lead field by field."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from nexasync.lead import Lead

#: A field a record has no canonical value for (unmapped stage or owner): unknown.
ABSENT: Any = object()


class MappingError(ValueError):
    """A lead (or a CRM record) that cannot be converted; the message is the reason."""


class Owners(Protocol):
    """Rep <-> user resolution (see :mod:`nexasync.connectors._owners`)."""

    def user_for(self, rep_id: str) -> str | None: ...

    def rep_for(self, user_id: str) -> str | None: ...

    def defer(self, record_id: str, user_id: str) -> None:
        """``record_id`` is owned by ``user_id``, who maps to no rep yet."""


class NoOwners:
    """For a mapping used without owner resolution: no rep maps to any user."""

    def user_for(self, rep_id: str) -> str | None:
        return None

    def rep_for(self, user_id: str) -> str | None:
        return None

    def defer(self, record_id: str, user_id: str) -> None:
        return None


def read_lead(
    names: Iterable[str], read_field: Callable[[str], Any], label: Callable[[str], str]
) -> Lead:
    """Read each canonical field; fields read as :data:`ABSENT` are left out, and every
    field that cannot be read is named in one :class:`MappingError`."""
    lead: Lead = {}
    errors: list[str] = []
    for name in names:
        try:
            value = read_field(name)
        except (ValueError, TypeError) as exc:
            errors.append(f"{label(name)}: {exc}")
            continue
        if value is not ABSENT:
            lead[name] = value
    if errors:
        raise MappingError("; ".join(errors))
    return lead


def project_lead(
    lead: Lead,
    synced: Callable[[str], bool],
    round_trip: Callable[[str, Any], Any],
) -> Lead:
    """``lead`` as the CRM would read it back: each synced field written and read again
    (``round_trip``). A field the CRM would refuse keeps its value (the write reports
    the error); a field the write leaves out (:data:`ABSENT`) becomes unknown."""
    out: Lead = {}
    for name, value in lead.items():
        if not synced(name):
            out[name] = value
            continue
        try:
            back = round_trip(name, value)
        except (ValueError, TypeError):
            out[name] = value
            continue
        if back is not ABSENT:
            out[name] = back
    return out
