"""Reading, writing and diagnosing links (the rows behind :class:`Link`).

SQLAlchemy Core on the links table, not ORM rows: a sync writes and reads every link
once or more per cycle, and per-row ORM objects (attribute instrumentation, identity
map, unit of work) cost far more CPU than the SQL itself. The statements are built
once, with bound parameters, so each call reuses their cached compiled form.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, update

from nexasync.lead import Lead, to_json
from nexasync.store._bulk import executemany
from nexasync.store._sql import chunks
from nexasync.store._values import Link, StoreError, pending_from_json
from nexasync.store.models import LinkRow

LINKS: Table = LinkRow.__table__  # type: ignore[attr-defined]
_SIDES = ("nexadesk_id", "crm_id")
#: The columns of a :class:`Link`, in its fields' order (``updated_at`` is not one).
LINK_COLUMNS = tuple(LINKS.c[f.name] for f in fields(Link))

SELECT_LINKS = select(*LINK_COLUMNS)
_BY_ID = SELECT_LINKS.where(LINKS.c.id == bindparam("id"))
_BY_SIDE = {
    side: SELECT_LINKS.where(
        LINKS.c.pair == bindparam("pair"), LINKS.c[side].in_(bindparam("ids", expanding=True))
    )
    for side in _SIDES
}
_KEY = {side: LINK_COLUMNS.index(LINKS.c[side]) for side in _SIDES}
#: Held to the end of the transaction (PostgreSQL), so no link checked here is
#: deleted before it is updated.
_EXISTING = (
    select(LINKS.c.id).where(LINKS.c.id.in_(bindparam("ids", expanding=True))).with_for_update()
)
_UPDATE = update(LINKS).where(LINKS.c.id == bindparam("link_id"))
_INSERT = insert(LINKS).returning(LINKS.c.id, sort_by_parameter_order=True)
_INSERT_ONE = insert(LINKS).returning(LINKS.c.id)
_INSERT_MANY = insert(LINKS)
_TOP_ID = select(func.max(LINKS.c.id))
_DELETE = delete(LINKS).where(LINKS.c.id.in_(bindparam("ids", expanding=True)))
_CLAIMS = {
    side: select(LINKS.c.id, LINKS.c[side]).where(
        LINKS.c.pair == bindparam("pair"), LINKS.c[side].in_(bindparam("ids", expanding=True))
    )
    for side in _SIDES
}


def _loaded_lead(data: dict[str, Any] | None) -> Lead:
    """``from_json`` of a dict just decoded from a column, done in place: the decoder's
    dict is ours alone, so copying it again is waste."""
    if not data:
        return {}
    tags = data.get("tags")
    if tags is not None:
        data["tags"] = tuple(tags)
    return data


def link_from_row(row: Sequence[Any]) -> Link:
    """A :class:`Link` from a row of :data:`LINK_COLUMNS`."""
    id, pair, nexadesk_id, crm_id, base_nd, base_crm, nd_version, crm_version, lost, pending = row
    return Link(
        id,
        pair,
        nexadesk_id,
        crm_id,
        _loaded_lead(base_nd),
        _loaded_lead(base_crm),
        nd_version,
        crm_version,
        lost,
        pending_from_json(pending),
    )


def link_by_id(conn: Connection, id: int) -> Link | None:
    row = conn.execute(_BY_ID, {"id": id}).first()
    return None if row is None else link_from_row(row)


def links_by(conn: Connection, pair: str, side: str, ids: Iterable[str]) -> dict[str, Link]:
    """Links of ``pair`` whose ``side`` id is one of ``ids``, keyed by that id."""
    wanted = dict.fromkeys(i for i in ids if i is not None)
    stmt, key = _BY_SIDE[side], _KEY[side]
    found: dict[str, Link] = {}
    for chunk in chunks(wanted):
        for row in conn.execute(stmt, {"pair": pair, "ids": chunk}):
            found[row[key]] = link_from_row(row)
    return found


def delete_links(conn: Connection, ids: Sequence[int]) -> None:
    for chunk in chunks(ids):
        conn.execute(_DELETE, {"ids": chunk})


def _missing(conn: Connection, ids: Iterable[int]) -> list[int]:
    wanted = set(ids)
    found: set[int] = set()
    for chunk in chunks(sorted(wanted)):
        found.update(conn.scalars(_EXISTING, {"ids": chunk}))
    return sorted(wanted - found)


def _refuse(missing: Sequence[int]) -> StoreError:
    shown = ", ".join(map(str, missing[:10]))
    return StoreError(f"cannot update links that do not exist (deleted?): {shown}")


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows``; their new ids, in order."""
    if conn.dialect.name != "sqlite" or len(rows) == 1:
        return list(conn.execute(_INSERT, rows).scalars())
    # SQLite cannot return the ids of a multi-row insert in order, so SQLAlchemy would
    # send one INSERT per row. Instead: the first row's INSERT takes SQLite's single
    # write lock until commit, so no other connection adds a row meanwhile and the
    # ids above the largest one are ours to give to the rest, sent as one executemany.
    first = conn.execute(_INSERT_ONE, rows[0]).scalar_one()
    top = conn.execute(_TOP_ID).scalar_one()
    ids = range(top + 1, top + len(rows))
    executemany(conn, _INSERT_MANY, [{"id": id, **row} for id, row in zip(ids, rows[1:])])
    return [first, *ids]


def _json_arg(lead: Mapping[str, Any]) -> Any:
    # json.dumps writes a tuple as it writes a list, so a plain dict serializes to the
    # same text as its to_json copy: the copy is skipped.
    return lead if type(lead) is dict else to_json(lead)


def _as_read(lead: Mapping[str, Any]) -> Lead:
    """What reading ``lead`` back from its column gives, ``from_json(to_json(lead))``,
    in one pass instead of two copies."""
    if not lead:
        return {}
    return {
        k: tuple(v) if k == "tags" and v is not None else list(v) if isinstance(v, tuple) else v
        for k, v in lead.items()
    }


def write_links(conn: Connection, links: Sequence[Link], now: datetime) -> list[Link]:
    """Update the links with an id and insert the others; not committed. Returns the
    links as stored, new ids filled in, in the order given.

    Updates go first, in id order, then inserts in the order given (as the ORM's unit
    of work did), so a link giving up a record id in the batch frees it for a new one.
    """
    values: list[dict[str, Any]] = [
        {
            "pair": link.pair,
            "nexadesk_id": link.nexadesk_id,
            "crm_id": link.crm_id,
            "base_nexadesk": _json_arg(link.base_nexadesk),
            "base_crm": _json_arg(link.base_crm),
            "nexadesk_version": link.nexadesk_version,
            "crm_version": link.crm_version,
            "lost": link.lost,
            "pending": link.pending,
            "updated_at": now,
        }
        for link in links
    ]
    # One link listed twice is one row: the last of its versions is what is stored.
    updates = {link.id: i for i, link in enumerate(links) if link.id is not None}
    if updates:
        missing = _missing(conn, updates)
        if missing:
            raise _refuse(missing)
        params = [{"link_id": id, **values[i]} for id, i in sorted(updates.items())]
        result = executemany(conn, _UPDATE, params)
        if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(params):
            # Deleted by another process since the check (SQLite reads outside of
            # the write transaction until its first write).
            raise _refuse(_missing(conn, updates))
    new = [i for i, link in enumerate(links) if link.id is None]
    ids: dict[int, int] = {}
    if new:
        ids = dict(zip(new, _insert(conn, [values[i] for i in new])))
    saved = []
    for i, link in enumerate(links):
        stored = links[i if link.id is None else updates[link.id]]
        saved.append(
            Link(
                ids[i] if link.id is None else link.id,
                stored.pair,
                stored.nexadesk_id,
                stored.crm_id,
                _as_read(stored.base_nexadesk),
                _as_read(stored.base_crm),
                stored.nexadesk_version,
                stored.crm_version,
                stored.lost,
                pending_from_json(stored.pending),
            )
        )
    return saved


def _name(link_id: int | None) -> str:
    return "a new link" if link_id is None else f"link {link_id}"


def find_conflicts(conn: Connection, links: Sequence[Link]) -> list[str]:
    """Why ``links`` cannot be saved: ids claimed twice in the batch or by a stored link."""
    problems: list[str] = []
    for side in _SIDES:
        keys = [(link.pair, getattr(link, side)) for link in links if getattr(link, side)]
        for (pair, rid), n in Counter(keys).items():
            if n > 1:
                problems.append(f"pair {pair!r}: {side} {rid!r} is in {n} links of the batch")
        ours = {link.id for link in links if link.id is not None}
        claims = {(link.pair, getattr(link, side)): link.id for link in links}
        for pair in sorted({pair for pair, _ in keys}):
            rids = [rid for p, rid in keys if p == pair]
            for chunk in chunks(rids):
                for row_id, rid in conn.execute(_CLAIMS[side], {"pair": pair, "ids": chunk}):
                    # A stored link that is also in the batch may be giving the id up.
                    if row_id in ours:
                        continue
                    problems.append(
                        f"pair {pair!r}: {side} {rid!r} of {_name(claims[(pair, rid)])}"
                        f" is already linked by link {row_id}"
                    )
    return problems
