"""Small SQL helpers shared by the store modules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine

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


def upsert_insert(engine: Engine, model: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_update`` / ``_do_nothing`` on this backend."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)
