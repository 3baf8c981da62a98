"""Recovery of creates interrupted by a crash.

An intent is written before a create is sent and cleared after its link is saved.
An intent still open at the start of a cycle means the process died in between:
the create may or may not have happened. We look for the record on the target
side; when it is there we link it (as a fresh pairing, so the merge settles any
difference), when it is not the source is simply created again by the plan.
"""

from __future__ import annotations

from collections.abc import Mapping

from nexasync.connectors.base import Connector, Record
from nexasync.engine.plan import Side, other
from nexasync.lead import from_json, norm_email, norm_str
from nexasync.store.store import Link, StateStore


def _same_lead(sent: dict, found: Record, project: dict) -> bool:
    email = norm_email(sent.get("visitor_email"))
    if email:
        return norm_email(found.fields.get("visitor_email")) == email
    return norm_str(found.fields.get("visitor_name")) == norm_str(project.get("visitor_name"))


def recover_intents(pair: str, store: StateStore, connectors: Mapping[Side, Connector]) -> int:
    recovered = 0
    for intent in store.open_intents(pair):
        target: Side = "crm" if intent.target == "crm" else "nexadesk"
        source: Side = other(target)
        sent = from_json(intent.payload)
        existing = (
            store.links_by_nexadesk(pair, [intent.source_id])
            if source == "nexadesk"
            else store.links_by_crm(pair, [intent.source_id])
        ).get(intent.source_id)
        if existing is not None and (existing.crm_id if target == "crm" else existing.nexadesk_id):
            store.clear_intents(pair, intent.target, intent.op, [intent.source_id])
            continue
        projected = connectors[target].project(sent)
        matches = connectors[target].match([sent])[0]
        linked = (
            store.links_by_crm(pair, [m.id for m in matches])
            if target == "crm"
            else store.links_by_nexadesk(pair, [m.id for m in matches])
        )
        found = next(
            (m for m in matches if m.id not in linked and _same_lead(sent, m, projected)), None
        )
        if found is not None:
            nd_id, crm_id = (
                (intent.source_id, found.id)
                if source == "nexadesk"
                else (found.id, intent.source_id)
            )
            pending = {
                source: {"fields": intent.payload},
                target: {"fields": dict(found.fields)},
            }
            store.save_links(
                [
                    Link(
                        id=existing.id if existing else None,
                        pair=pair,
                        nexadesk_id=nd_id,
                        crm_id=crm_id,
                        base_nexadesk={},
                        base_crm={},
                        nexadesk_version=None,
                        crm_version=None,
                        lost=None,
                        pending=pending,
                    )
                ]
            )
            recovered += 1
        store.clear_intents(pair, intent.target, intent.op, [intent.source_id])
    return recovered
