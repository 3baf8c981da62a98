"""What reconcile decides, as plain data: one :class:`Item` per lead pair, holding
the writes to make and the state to record once they succeed.

Deciding is separate from doing (as in vdirsyncer): :mod:`.reconcile` builds
these, :mod:`.execute` carries them out, and ``--dry-run`` only prints them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from nexasync.lead import Lead

Side = Literal["nexadesk", "crm"]
SIDES: tuple[Side, Side] = ("nexadesk", "crm")


def other(side: Side) -> Side:
    return "crm" if side == "nexadesk" else "nexadesk"


@dataclass(frozen=True)
class Write:
    """One write to one side. ``op`` is create, update or delete."""

    op: Literal["create", "update", "delete"]
    target: Side
    #: The record written to (None for a create until it has succeeded).
    target_id: str | None
    #: For create: the whole lead; for update: only the fields that change.
    fields: Lead = field(default_factory=dict)
    #: For create: the record on the other side being copied.
    source_id: str | None = None


@dataclass
class Item:
    """One lead pair and what this cycle does to it."""

    link_id: int | None
    nexadesk_id: str | None
    crm_id: str | None
    #: The snapshots to store once every write below succeeded: what each side then holds.
    base: dict[Side, Lead]
    versions: dict[Side, str | None]
    #: What each side holds now, as read (None: deleted); stored as pending when a write
    #: fails, so the next cycle retries without having to read the record again.
    seen: dict[Side, Lead | None]
    #: When each side last changed, as read: kept with the pending state so a retried
    #: conflict is settled the same way ("newest change wins") the next cycle.
    modified: dict[Side, datetime | None] = field(
        default_factory=lambda: {"nexadesk": None, "crm": None}
    )
    writes: list[Write] = field(default_factory=list)
    #: Remove the link once the writes succeed (both sides gone).
    forget: bool = False
    #: Keep the link but stop syncing it, with this reason.
    lost: str | None = None
    #: Why: one line per decision, for logs, ``--dry-run`` and ``explain``.
    notes: list[str] = field(default_factory=list)
    #: Writes left out on purpose (a rule, a read-only record, the delete guard).
    skipped: list[tuple[Side, str]] = field(default_factory=list)
    #: True when the item must not be saved as agreed yet (e.g. a guarded delete).
    hold: bool = False

    def key(self) -> str:
        return self.nexadesk_id or self.crm_id or "?"


@dataclass
class Plan:
    pair: str
    items: list[Item] = field(default_factory=list)
    #: Record-level problems found while reading: (side, id, reason).
    invalid: list[tuple[Side, str, str]] = field(default_factory=list)
    #: Messages for the operator (e.g. the mass-delete guard tripped).
    warnings: list[str] = field(default_factory=list)
    #: Writes of items planned but no longer held here (a cycle plans in chunks and
    #: lets each chunk's items go once executed), counted as ``target.op``.
    tally: Counter[str] = field(default_factory=Counter)

    def writes(self, target: Side, op: str) -> list[tuple[Item, Write]]:
        return [(i, w) for i in self.items for w in i.writes if w.target == target and w.op == op]

    def counts(self) -> dict[str, Any]:
        out: Counter[str] = Counter(self.tally)
        for item in self.items:
            for w in item.writes:
                out[f"{w.target}.{w.op}"] += 1
        return {key: n for key, n in out.items() if n}

    def absorb(self, part: Plan, *, keep_items: bool) -> None:
        """Add a chunk's plan to this one; its items are kept only when asked (a
        dry run prints them), otherwise only counted."""
        self.invalid.extend(part.invalid)
        self.warnings.extend(part.warnings)
        if keep_items:
            self.items.extend(part.items)
        else:
            self.tally.update(f"{w.target}.{w.op}" for i in part.items for w in i.writes)
