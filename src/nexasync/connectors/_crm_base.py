"""What the CRM connectors share: the contract methods, handed to the parts each
connector is made of (a puller, a creator, a writer, a mapping, owners, an API).

A CRM connector sets those attributes in ``__init__`` and adds what is its own
(matching, its options); everything else comes from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nexasync.connectors.base import (
    Connector,
    CreateItem,
    Cursor,
    KnownIds,
    Pull,
    UpdateItem,
    WriteResult,
)
from nexasync.lead import Lead


class CrmConnector(Connector):
    _api: Any
    _puller: Any
    _creator: Any
    _writer: Any
    _mapping: Any
    _owners: Any

    def pull(self, cursor: Cursor | None, known: KnownIds) -> Pull:
        self._owners.forget_deferred()
        return self._puller.pull(cursor, known)  # type: ignore[no-any-return]

    def create(self, items: Sequence[CreateItem]) -> list[WriteResult]:
        return self._creator.create(items)  # type: ignore[no-any-return]

    def update(self, items: Sequence[UpdateItem]) -> list[WriteResult]:
        return self._writer.update(items)  # type: ignore[no-any-return]

    def delete(self, ids: Sequence[str]) -> list[WriteResult]:
        return self._writer.delete(ids)  # type: ignore[no-any-return]

    def project(self, lead: Lead) -> Lead:
        return self._mapping.project(lead, self._owners)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._api.close()

    def set_rep_directory(self, rep_emails: Mapping[str, str | None]) -> None:
        """NexaDesk rep id -> email, so reps map to CRM users by email (``rep_by_email``)."""
        self._owners.set_rep_directory(rep_emails)

    def settle_owners(self) -> dict[str, str]:
        """Reps for the records the last pull read while the rep directory did not yet
        know their owner (record id -> rep id); see :meth:`OwnerMap.settle`."""
        return self._owners.settle()  # type: ignore[no-any-return]
