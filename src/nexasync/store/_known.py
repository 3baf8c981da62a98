"""The ids one side of a pair has live links for: the connectors' ``KnownIds``.

Every call asks the database (indexed by the unique (pair, id) keys) instead of
loading the set, so memory stays flat however many leads a pair holds. A pull may ask
once per record read, so each question is one prepared Core statement on a pooled
connection, not an ORM session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from sqlalchemy import Engine, Table, bindparam, func, select

from nexasync.lead import Lead, from_json
from nexasync.store.models import LinkRow

Side = Literal["nexadesk", "crm"]

#: Rows fetched per round trip when streaming ids.
STREAM_CHUNK = 1000

LINKS: Table = LinkRow.__table__  # type: ignore[attr-defined]


def side_columns(side: str) -> tuple[Any, Any]:
    """The (id, base) columns of ``side``."""
    if side == "nexadesk":
        return LINKS.c.nexadesk_id, LINKS.c.base_nexadesk
    if side == "crm":
        return LINKS.c.crm_id, LINKS.c.base_crm
    raise ValueError(f"side must be 'nexadesk' or 'crm', not {side!r}")


class _Statements:
    """The statements of one side, built once per process."""

    def __init__(self, side: str) -> None:
        id, base = side_columns(side)
        live = (LINKS.c.pair == bindparam("pair"), LINKS.c.lost.is_(None), id.is_not(None))
        self.count = select(func.count()).select_from(LINKS).where(*live)
        self.ids = select(id).where(*live).order_by(id)
        self.contains = select(LINKS.c.id).where(*live, id == bindparam("id")).limit(1)
        self.base = select(base).where(*live, id == bindparam("id"))


_STATEMENTS = {side: _Statements(side) for side in ("nexadesk", "crm")}


class StoredKnownIds:
    """Live (not lost) links of ``pair`` with an id on ``side``."""

    def __init__(self, engine: Engine, pair: str, side: Side) -> None:
        side_columns(side)  # refuses an unknown side
        self._engine = engine
        self._pair = pair
        self._stmt = _STATEMENTS[side]

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.scalar(self._stmt.count, {"pair": self._pair}))

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[str]:
        options = {"yield_per": STREAM_CHUNK}
        with self._engine.connect() as conn:
            yield from conn.scalars(self._stmt.ids, {"pair": self._pair}, execution_options=options)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, str):
            return False
        with self._engine.connect() as conn:
            found = conn.execute(self._stmt.contains, {"pair": self._pair, "id": item})
            return found.first() is not None

    def base(self, id: str) -> Lead | None:
        with self._engine.connect() as conn:
            data = conn.scalar(self._stmt.base, {"pair": self._pair, "id": id})
        return None if data is None else from_json(data)
