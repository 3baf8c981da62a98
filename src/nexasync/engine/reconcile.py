"""Reconcile: (changes of both sides, links, policy) -> :class:`Plan`. Pure: no I/O.

Every case below is one branch, named for the situation it handles. The executor
(:mod:`.execute`) carries the plan out; nothing here talks to a system or a store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nexasync.connectors.base import Record
from nexasync.engine.merge import Project, SideState, changed_from, merge
from nexasync.engine.plan import SIDES, Item, Plan, Side, Write, other
from nexasync.lead import FIELDS, Lead, norm_email
from nexasync.store.store import Link

READ_ONLY_KEY = "_read_only"


@dataclass(frozen=True)
class Policy:
    rule_of: Callable[[str], str]
    #: What to do when a lead is deleted on a side, keyed by the side it was deleted on.
    delete_policy: Mapping[Side, str]
    max_delete_ratio: float
    max_unguarded_deletes: int
    project: Mapping[Side, Project]


@dataclass(frozen=True)
class Current:
    """One side of a pair as this cycle sees it."""

    id: str | None
    fields: Lead | None  # None: deleted
    modified_at: datetime | None = None
    read_only: str | None = None
    version: str | None = None
    changed: bool = False  # read this cycle (or pending from an earlier one)


def _fields_only(lead: Mapping[str, Any]) -> Lead:
    return {k: v for k, v in lead.items() if k in FIELDS}


def _edited(fields: Lead, base: Lead) -> bool:
    """Whether a side really changed since its base, as the merge sees it (a field it did
    not read is no opinion), rather than whether the two dicts differ."""
    return any(changed_from(base, name, v) for name, v in _fields_only(fields).items())


def _pending_state(link: Link, side: Side) -> Current | None:
    pending = (link.pending or {}).get(side)
    if not pending:
        return None
    when = pending.get("modified_at")
    return Current(
        id=link.nexadesk_id if side == "nexadesk" else link.crm_id,
        fields=None if pending.get("deleted") else pending.get("fields", {}),
        modified_at=datetime.fromisoformat(when) if when else None,
        read_only=pending.get("read_only"),
        version=pending.get("version"),
        changed=True,
    )


def _current(link: Link, side: Side, records: Mapping[str, Record]) -> Current:
    sid = link.nexadesk_id if side == "nexadesk" else link.crm_id
    base = link.base_nexadesk if side == "nexadesk" else link.base_crm
    version = link.nexadesk_version if side == "nexadesk" else link.crm_version
    record = records.get(sid) if sid else None
    if record is not None and record.invalid is None:
        return Current(
            sid,
            None if record.deleted else record.fields,
            record.modified_at,
            record.read_only,
            record.version,
            changed=True,
        )
    return _pending_state(link, side) or Current(
        sid, _fields_only(base), None, base.get(READ_ONLY_KEY), version
    )


def _new_item(link: Link | None, nd: Current, crm: Current) -> Item:
    return Item(
        link_id=link.id if link else None,
        nexadesk_id=nd.id,
        crm_id=crm.id,
        base={
            "nexadesk": dict(link.base_nexadesk) if link else {},
            "crm": dict(link.base_crm) if link else {},
        },
        versions={"nexadesk": nd.version, "crm": crm.version},
        seen={"nexadesk": nd.fields, "crm": crm.fields},
        modified={"nexadesk": nd.modified_at, "crm": crm.modified_at},
    )


def _with_read_only(fields: Lead, read_only: str | None) -> Lead:
    return {**fields, READ_ONLY_KEY: read_only} if read_only else dict(fields)


def _merge_item(item: Item, nd: Current, crm: Current, policy: Policy, *, new_link: bool) -> None:
    assert nd.fields is not None and crm.fields is not None
    result = merge(
        SideState(nd.fields, _fields_only(item.base["nexadesk"]), nd.modified_at),
        SideState(crm.fields, _fields_only(item.base["crm"]), crm.modified_at),
        policy.rule_of,
        policy.project["nexadesk"],
        policy.project["crm"],
        new_link=new_link,
    )
    item.notes.extend(result.notes)
    item.base = {"nexadesk": result.base_nexadesk, "crm": result.base_crm}
    for side, changes, current in (
        ("nexadesk", result.to_nexadesk, nd),
        ("crm", result.to_crm, crm),
    ):
        if not changes:
            continue
        if current.read_only:
            # A record the system will not take writes for (a converted lead): keep
            # what it holds as its base, so the skip is not retried every cycle.
            item.skipped.append((side, f"{current.read_only}: not written"))
            item.base[side] = {**item.base[side], **_fields_only(current.fields or {})}
            continue
        item.writes.append(Write("update", side, current.id, changes))
        item.notes.append(f"update {side}: {', '.join(sorted(changes))}")
    for side, current in (("nexadesk", nd), ("crm", crm)):
        item.base[side] = _with_read_only(item.base[side], current.read_only)


def _plan_linked(link: Link, changes: Mapping[Side, Mapping[str, Record]], policy: Policy) -> Item:
    nd = _current(link, "nexadesk", changes["nexadesk"])
    crm = _current(link, "crm", changes["crm"])
    item = _new_item(link, nd, crm)
    state = {"nexadesk": nd, "crm": crm}

    # Both sides gone (or never created): nothing left to sync.
    if all(s.fields is None or s.id is None for s in (nd, crm)):
        item.forget = True
        item.notes.append("gone on both sides: link removed")
        return item

    for gone in SIDES:
        kept = other(gone)
        g, k = state[gone], state[kept]
        # A pending create: this side was never written; create it now.
        if g.id is None and k.fields is not None:
            # The copy is made of what the kept side holds now: that is its base from here.
            item.base = {gone: {}, kept: _with_read_only(dict(k.fields), k.read_only)}
            item.writes.append(Write("create", gone, None, dict(k.fields), source_id=k.id))
            item.notes.append(f"create in {gone} (retry of an earlier create)")
            return item
        if g.fields is not None:
            continue
        policy_of = policy.delete_policy[gone]
        kept_changed = k.changed and _edited(k.fields or {}, _fields_only(item.base[kept]))
        if kept_changed and policy_of == "propagate":
            # Deleted on one side while edited on the other: the edit wins; the lead is
            # re-created so no one's work is lost, as the kept side holds it now.
            item.base = {gone: {}, kept: _with_read_only(dict(k.fields or {}), k.read_only)}
            item.writes.append(Write("create", gone, None, dict(k.fields or {}), source_id=k.id))
            if gone == "crm":
                item.crm_id = None
            else:
                item.nexadesk_id = None
            item.versions[gone] = None
            item.notes.append(f"deleted in {gone} but edited in {kept}: re-created in {gone}")
        elif policy_of == "propagate":
            item.writes.append(Write("delete", kept, k.id))
            item.forget = True
            item.notes.append(f"deleted in {gone}: delete in {kept}")
        elif policy_of == "mark_lost":
            item.lost = f"deleted in {gone}; marked lost in {kept}"
            if k.fields is not None and k.fields.get("pipeline_stage") != "lost":
                if k.read_only:
                    item.skipped.append((kept, f"{k.read_only}: not marked lost"))
                else:
                    item.writes.append(Write("update", kept, k.id, {"pipeline_stage": "lost"}))
            item.notes.append(item.lost)
        else:
            item.lost = f"deleted in {gone}; delete not propagated (policy ignore)"
            item.notes.append(item.lost)
        return item

    # No base on either side: a pairing that was never merged (a recovered create).
    fresh = not _fields_only(link.base_nexadesk) and not _fields_only(link.base_crm)
    _merge_item(item, nd, crm, policy, new_link=fresh)
    return item


def _pair_unlinked(
    unlinked: Mapping[Side, list[Record]], candidates: Mapping[Side, Iterable[Record]]
) -> tuple[list[tuple[Record, Record]], dict[Side, list[Record]]]:
    """Pair unlinked records across sides by normalised email (the first sync against
    a populated CRM must not duplicate anyone); the rest are to be created."""
    by_email: dict[str, dict[Side, dict[str, Record]]] = defaultdict(
        lambda: {"nexadesk": {}, "crm": {}}
    )
    for side in SIDES:
        for record in list(unlinked[side]) + list(candidates.get(side, ())):
            email = norm_email(record.fields.get("visitor_email"))
            if email:
                by_email[email][side].setdefault(record.id, record)
    pairs: list[tuple[Record, Record]] = []
    paired: set[str] = set()
    for group in by_email.values():
        nds = sorted(group["nexadesk"].values(), key=lambda r: r.id)
        crms = sorted(group["crm"].values(), key=lambda r: r.id)
        for nd, crm in zip(nds, crms):
            pairs.append((nd, crm))
            paired.update((f"nexadesk:{nd.id}", f"crm:{crm.id}"))
    rest = {s: [r for r in unlinked[s] if f"{s}:{r.id}" not in paired] for s in SIDES}
    return pairs, rest


def _as_current(record: Record) -> Current:
    return Current(
        record.id, record.fields, record.modified_at, record.read_only, record.version, True
    )


def guard_deletes(plan: Plan, link_count: int, policy: Policy) -> list[tuple[Item, Write]]:
    """The mass-delete guard: when a side would lose more than its share of the
    linked leads, no delete is done there. Returns the deletes it held back."""
    allowed = max(policy.max_unguarded_deletes, int(policy.max_delete_ratio * link_count))
    held: list[tuple[Item, Write]] = []
    for target in SIDES:
        deletes = plan.writes(target, "delete")
        if len(deletes) <= allowed:
            continue
        plan.warnings.append(
            f"mass-delete guard: {len(deletes)} deletes in {target} planned, more than "
            f"{allowed} ({policy.max_delete_ratio:.0%} of {link_count} links); none done. "
            "Check the other side; raise deletes.max_ratio to allow it."
        )
        for item, write in deletes:
            item.writes.remove(write)
            item.forget = False
            item.hold = True
            item.skipped.append((target, "mass-delete guard"))
            held.append((item, write))
    return held


def reconcile(
    pair: str,
    changes: Mapping[Side, Mapping[str, Record]],
    links: Iterable[Link],
    candidates: Mapping[Side, Iterable[Record]],
    link_count: int,
    policy: Policy,
    *,
    guard: bool = True,
) -> Plan:
    """Plan one cycle. ``links`` must hold every link touching a changed id, and every
    link with pending state; ``candidates`` are unlinked records found by matching.
    ``guard=False`` leaves the mass-delete guard to the caller: a cycle planned in
    chunks guards the deletes of all its chunks together."""
    plan = Plan(pair)
    linked: dict[Side, set[str]] = {"nexadesk": set(), "crm": set()}
    for link in links:
        if link.nexadesk_id:
            linked["nexadesk"].add(link.nexadesk_id)
        if link.crm_id:
            linked["crm"].add(link.crm_id)
        if link.lost:
            continue  # a lost link is kept only so its records are never re-created
        plan.items.append(_plan_linked(link, changes, policy))

    unlinked: dict[Side, list[Record]] = {"nexadesk": [], "crm": []}
    for side in SIDES:
        for record in changes[side].values():
            if record.invalid is not None:
                plan.invalid.append((side, record.id, record.invalid))
            elif record.id not in linked[side] and not record.deleted:
                unlinked[side].append(record)
    usable = {
        s: [c for c in candidates.get(s, ()) if c.id not in linked[s] and not c.deleted]
        for s in SIDES
    }
    pairs, rest = _pair_unlinked(unlinked, usable)
    for nd_rec, crm_rec in pairs:
        nd, crm = _as_current(nd_rec), _as_current(crm_rec)
        item = _new_item(None, nd, crm)
        item.notes.append("matched by email: linked")
        _merge_item(item, nd, crm, policy, new_link=True)
        plan.items.append(item)
    for side in SIDES:
        for record in rest[side]:
            current = _as_current(record)
            missing = Current(None, None)
            nd, crm = (current, missing) if side == "nexadesk" else (missing, current)
            item = _new_item(None, nd, crm)
            item.base[side] = _with_read_only(dict(record.fields), record.read_only)
            target = other(side)
            item.writes.append(Write("create", target, None, dict(record.fields), record.id))
            item.notes.append(f"new in {side}: create in {target}")
            plan.items.append(item)
    if guard:
        guard_deletes(plan, link_count, policy)
    return plan
