"""Reading, writing and diagnosing links (the rows behind :class:`Link`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from nexasync.lead import to_json
from nexasync.store._sql import chunks
from nexasync.store._values import Link, StoreError
from nexasync.store.models import LinkRow

_SIDES = ("nexadesk_id", "crm_id")


def links_by(session: Session, pair: str, column: Any, ids: Iterable[str]) -> dict[str, Link]:
    """Links of ``pair`` whose ``column`` is one of ``ids``, keyed by that id."""
    wanted = dict.fromkeys(i for i in ids if i is not None)
    found: dict[str, Link] = {}
    for chunk in chunks(wanted):
        stmt = select(LinkRow).where(col(LinkRow.pair) == pair, column.in_(chunk))
        for row in session.exec(stmt):
            link = Link.from_row(row)
            found[getattr(link, column.key)] = link
    return found


def write_links(session: Session, links: Sequence[Link], now: datetime) -> list[LinkRow]:
    """Stage ``links`` in ``session`` (new ones added, others updated by id); not committed."""
    ids = [link.id for link in links if link.id is not None]
    existing: dict[int, LinkRow] = {}
    for chunk in chunks(ids):
        for row in session.exec(select(LinkRow).where(col(LinkRow.id).in_(chunk))):
            assert row.id is not None
            existing[row.id] = row
    missing = sorted(set(ids) - existing.keys())
    if missing:
        shown = ", ".join(map(str, missing[:10]))
        raise StoreError(f"cannot update links that do not exist (deleted?): {shown}")
    rows = []
    for link in links:
        row = existing[link.id] if link.id is not None else LinkRow(pair=link.pair)
        row.pair = link.pair
        row.nexadesk_id, row.crm_id = link.nexadesk_id, link.crm_id
        row.base_nexadesk = to_json(link.base_nexadesk)
        row.base_crm = to_json(link.base_crm)
        row.nexadesk_version, row.crm_version = link.nexadesk_version, link.crm_version
        row.lost = link.lost
        row.pending = link.pending
        row.updated_at = now
        session.add(row)
        rows.append(row)
    return rows


def _name(link_id: int | None) -> str:
    return "a new link" if link_id is None else f"link {link_id}"


def find_conflicts(session: Session, links: Sequence[Link]) -> list[str]:
    """Why ``links`` cannot be saved: ids claimed twice in the batch or by a stored link."""
    problems: list[str] = []
    for side in _SIDES:
        keys = [(link.pair, getattr(link, side)) for link in links if getattr(link, side)]
        for (pair, rid), n in Counter(keys).items():
            if n > 1:
                problems.append(f"pair {pair!r}: {side} {rid!r} is in {n} links of the batch")
        ours = {link.id for link in links if link.id is not None}
        claims = {(link.pair, getattr(link, side)): link.id for link in links}
        column = col(getattr(LinkRow, side))
        for pair in sorted({pair for pair, _ in keys}):
            rids = [rid for p, rid in keys if p == pair]
            for chunk in chunks(rids):
                stmt = select(LinkRow).where(col(LinkRow.pair) == pair, column.in_(chunk))
                for row in session.exec(stmt):
                    # A stored link that is also in the batch may be giving the id up.
                    if row.id in ours:
                        continue
                    rid = getattr(row, side)
                    problems.append(
                        f"pair {pair!r}: {side} {rid!r} of {_name(claims[(pair, rid)])}"
                        f" is already linked by link {row.id}"
                    )
    return problems
