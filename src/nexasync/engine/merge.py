"""The three-way merge of one linked lead, field by field. Pure.

Each side is compared against *its own* base snapshot (what that side held after
the last sync), never against the other side's values directly. That is what
keeps lossy mappings stable: a 200-character name written to an 80-character
LastName reads back truncated, the CRM base holds the truncated value, and the
CRM side is therefore unchanged — nothing is written back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nexasync.lead import FIELDS, Lead, is_blank

Project = Callable[[Lead], Lead]


@dataclass(frozen=True)
class SideState:
    fields: Lead
    base: Lead
    modified_at: datetime | None = None


@dataclass
class MergeResult:
    to_nexadesk: Lead = field(default_factory=dict)
    to_crm: Lead = field(default_factory=dict)
    base_nexadesk: Lead = field(default_factory=dict)
    base_crm: Lead = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def changed_from(base: Lead, name: str, value: Any) -> bool:
    """Whether ``value`` is a change from the base. A blank where the base has no entry is
    not: the field was unknown before and reads as nothing now, which is what it was."""
    if name not in base:
        return not is_blank(value)
    return base[name] != value


def _winner_of_conflict(
    rule: str, nd: Any, crm: Any, nd_time: datetime | None, crm_time: datetime | None
) -> str:
    if rule in ("always-nexadesk", "none"):
        return "nexadesk"
    if rule == "always-crm":
        return "crm"
    if rule == "prefer-nexadesk-unless-blank":
        return "crm" if is_blank(nd) else "nexadesk"
    if rule == "prefer-crm-unless-blank":
        return "nexadesk" if is_blank(crm) else "crm"
    # two-way: newest change wins; a tie, or no timestamps, goes to NexaDesk (the side
    # where the lead was captured) so the outcome is deterministic.
    if nd_time and crm_time and crm_time > nd_time:
        return "crm"
    return "nexadesk"


def merge(
    nd: SideState,
    crm: SideState,
    rule_of: Callable[[str], str],
    project_nd: Project,
    project_crm: Project,
    *,
    new_link: bool = False,
) -> MergeResult:
    """Merge one lead pair. ``new_link`` is a first pairing (matched by email): there is
    no base yet, so differing fields are settled by blank-vs-filled and then the rule."""
    out = MergeResult(base_nexadesk=dict(nd.base), base_crm=dict(crm.base))
    # How each side's values read back on the other side: computed once per lead, and
    # only for a lead with a changed field (an echo of our own write has none).
    projected: list[Lead] = []

    def on_other_side() -> tuple[Lead, Lead]:
        if not projected:
            projected.append(project_crm({k: v for k, v in nd.fields.items() if k in FIELDS}))
            projected.append(project_nd({k: v for k, v in crm.fields.items() if k in FIELDS}))
        return projected[0], projected[1]

    for name in FIELDS:
        rule = rule_of(name)
        has_nd, has_crm = name in nd.fields, name in crm.fields
        v_nd = nd.fields.get(name)
        v_crm = crm.fields.get(name)
        if has_nd:
            out.base_nexadesk[name] = v_nd
        if has_crm:
            out.base_crm[name] = v_crm
        if rule == "none" or not (has_nd or has_crm):
            continue
        # Absent means the side does not map or could not read the field: no opinion.
        changed_nd = has_nd and (new_link or changed_from(nd.base, name, v_nd))
        changed_crm = has_crm and (new_link or changed_from(crm.base, name, v_crm))
        if not has_crm:
            changed_crm = False
        if not has_nd:
            changed_nd = False
        if not (changed_nd or changed_crm):
            continue

        nd_on_crm, crm_on_nd = on_other_side()
        if has_nd and has_crm and (nd_on_crm.get(name) == v_crm or crm_on_nd.get(name) == v_nd):
            # Both sides already agree through the mapping, whichever of them moved: a
            # write either way would change nothing, or lose what the mapping drops.
            continue
        if changed_nd and changed_crm:
            if new_link and is_blank(v_nd) != is_blank(v_crm):
                winner = "crm" if is_blank(v_nd) else "nexadesk"
            else:
                winner = _winner_of_conflict(rule, v_nd, v_crm, nd.modified_at, crm.modified_at)
            out.notes.append(f"conflict on {name}: {rule} -> {winner} wins")
        elif changed_nd:
            winner = "crm" if rule == "always-crm" else "nexadesk"
        else:
            winner = "nexadesk" if rule == "always-nexadesk" else "crm"

        # A blank needs no write into a field the target does not hold: both mean "none".
        # A field the projection leaves out cannot be written there (a rep with no CRM
        # user, a blank the CRM refuses): no write, and the base stays as it was.
        if winner == "nexadesk" and has_nd and name not in nd_on_crm:
            continue
        if winner == "crm" and has_crm and name not in crm_on_nd:
            continue
        if winner == "nexadesk" and has_nd:
            target = nd_on_crm.get(name)
            if (target != v_crm) if has_crm else not is_blank(target):
                out.to_crm[name] = v_nd
                out.base_crm[name] = target
        elif winner == "crm" and has_crm:
            target = crm_on_nd.get(name)
            if (target != v_nd) if has_nd else not is_blank(target):
                out.to_nexadesk[name] = v_crm
                out.base_nexadesk[name] = target
    return out
