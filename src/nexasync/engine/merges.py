"""CRM merges: two records became one on the CRM side. That is not a delete.

The surviving record names the ids merged into it (``Record.merged_ids``). A link
that pointed at a merged-away id moves to the survivor, keeping its base snapshot,
so the survivor's values are then merged with the NexaDesk lead as an ordinary
change. When the survivor is already linked to another NexaDesk lead, the moved
link cannot follow it (a CRM record has one counterpart): it is marked lost with
the reason, and its NexaDesk lead is left alone — nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from nexasync.connectors.base import Record
from nexasync.store.store import Link, StateStore


def plan_merges(
    pair: str, store: StateStore, records: Mapping[str, Record]
) -> tuple[list[Link], list[str]]:
    """The links to rewrite for the merges seen in ``records``, and a note for each."""
    survivors = {rid: r for rid, r in records.items() if r.merged_ids and not r.deleted}
    if not survivors:
        return [], []
    merged = {m: rid for rid, r in survivors.items() for m in r.merged_ids}
    moved = store.links_by_crm(pair, merged)
    linked_survivors = store.links_by_crm(pair, survivors)
    claimed = set(linked_survivors)
    changed: list[Link] = []
    notes: list[str] = []
    for old_id, link in sorted(moved.items()):
        if link.lost:
            continue
        survivor = merged[old_id]
        if survivor in claimed:
            holder = linked_survivors.get(survivor)
            other = holder.nexadesk_id if holder else "another lead"
            reason = f"merged in the CRM into {survivor}, which is linked to {other}"
            changed.append(replace(link, lost=reason))
            notes.append(f"{link.nexadesk_id}: {reason}")
            continue
        claimed.add(survivor)
        # No version: the survivor's record is read as a change against this base.
        changed.append(replace(link, crm_id=survivor, crm_version=None))
        notes.append(f"{link.nexadesk_id}: relinked from {old_id} to {survivor} (CRM merge)")
    return changed, notes
