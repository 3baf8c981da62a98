"""The NexaDesk rep directory (rep id -> email), shared with the CRM connector.

NexaDesk names a lead's rep with the rep's email, so reps are learned from the leads
read; the CRM connector needs them to map reps to CRM users by email. The directory
is kept in the store, so owners still map in a cycle that read no lead carrying a rep.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nexasync.connectors.base import Connector
from nexasync.engine.plan import Side
from nexasync.engine.spool import Spool
from nexasync.lead import normalise_field
from nexasync.store.store import StateStore

REPS_CURSOR = "reps"


def share_reps(
    pair: str, store: StateStore, connectors: Mapping[Side, Connector], dry_run: bool
) -> None:
    """Hand the CRM connector the NexaDesk rep directory (rep id -> email), kept in the
    store so owners still map in a cycle that read no lead carrying a rep."""
    known: dict[str, Any] = dict(store.get_cursor(pair, REPS_CURSOR) or {})
    learned = getattr(connectors["nexadesk"], "rep_emails", None) or {}
    if learned and any(known.get(k) != v for k, v in learned.items()):
        known.update(learned)
        if not dry_run:
            store.set_cursor(pair, REPS_CURSOR, known)
    setter = getattr(connectors["crm"], "set_rep_directory", None)
    if setter is not None:
        setter(known)


def settle_owners(crm: Connector, spool: Spool) -> None:
    """Give the CRM records read before NexaDesk the reps its read has since taught."""
    settle = getattr(crm, "settle_owners", None)
    if settle is None:
        return
    for record_id, rep in settle().items():
        record = spool.get(record_id)
        if record is not None and record.invalid is None and not record.deleted:
            record.fields["assigned_rep_id"] = normalise_field("assigned_rep_id", rep)
            spool.add(record)


__all__ = ["REPS_CURSOR", "settle_owners", "share_reps"]
