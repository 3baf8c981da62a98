"""The ids one side of a pair has live links for: the connectors' ``KnownIds``.

Every call asks the database (indexed by the unique (pair, id) keys) instead of
loading the set, so memory stays flat however many leads a pair holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from nexasync.lead import Lead, from_json
from nexasync.store.models import LinkRow

Side = Literal["nexadesk", "crm"]

#: Rows fetched per round trip when streaming ids.
STREAM_CHUNK = 1000


def side_columns(side: str) -> tuple[Any, Any]:
    """The (id, base) columns of ``side``."""
    if side == "nexadesk":
        return col(LinkRow.nexadesk_id), col(LinkRow.base_nexadesk)
    if side == "crm":
        return col(LinkRow.crm_id), col(LinkRow.base_crm)
    raise ValueError(f"side must be 'nexadesk' or 'crm', not {side!r}")


class StoredKnownIds:
    """Live (not lost) links of ``pair`` with an id on ``side``."""

    def __init__(self, engine: Engine, pair: str, side: Side) -> None:
        self._engine = engine
        self._pair = pair
        self._id, self._base = side_columns(side)

    def _live(self) -> Any:
        return (
            col(LinkRow.pair) == self._pair,
            col(LinkRow.lost).is_(None),
            self._id.is_not(None),
        )

    def count(self) -> int:
        with Session(self._engine) as session:
            stmt = select(func.count()).select_from(LinkRow).where(*self._live())
            return session.exec(stmt).one()

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[str]:
        with Session(self._engine) as session:
            stmt = select(self._id).where(*self._live()).order_by(self._id)
            rows = session.exec(stmt.execution_options(yield_per=STREAM_CHUNK))
            yield from rows

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, str):
            return False
        with Session(self._engine) as session:
            stmt = select(LinkRow.id).where(*self._live(), self._id == item).limit(1)
            return session.exec(stmt).first() is not None

    def base(self, id: str) -> Lead | None:
        with Session(self._engine) as session:
            stmt = select(self._base).where(*self._live(), self._id == id)
            data = session.exec(stmt).first()
        return None if data is None else from_json(data)
