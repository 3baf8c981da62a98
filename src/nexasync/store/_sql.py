"""Small SQL helpers shared by the store modules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: Values per ``IN (...)`` list or multi-row insert: far below SQLite's bound-parameter
#: limit and PostgreSQL's, while keeping round trips few.
CHUNK = 500


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def upsert_insert(dialect: str, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_update`` / ``_do_nothing`` on ``dialect``."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)
