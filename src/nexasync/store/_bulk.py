"""executemany for the per-batch hot paths (links, intents, events), cheap on SQLite.

SQLAlchemy's executemany builds a parameter dict per row and runs every value through
its column type's bind processor, the same ``datetime`` included in every row: at a
few hundred rows per write batch that is most of what storing a batch costs. On
SQLite the statement is compiled once per set of columns, each column's processor is
looked up once, a value equal to the row before's is converted once, and the rows go
to the driver's own executemany as tuples.

PostgreSQL keeps SQLAlchemy's path: its driver's plain executemany is one round trip
per row, where SQLAlchemy's batches rows into multi-row statements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.sql import Executable

Processor = Callable[[Any], Any] | None


@lru_cache(maxsize=64)
def _compiled(
    stmt: Executable, keys: tuple[str, ...], dialect: Dialect
) -> tuple[str, tuple[str, ...], tuple[Processor, ...]]:
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    order = tuple(compiled.positiontup or ())
    if set(order) != set(keys):
        raise ValueError(f"statement binds {sorted(order)}, rows carry {sorted(keys)}")
    processors = tuple(compiled.binds[name].type.bind_processor(dialect) for name in order)
    return compiled.string, order, processors


def executemany(
    conn: Connection, stmt: Executable, rows: Sequence[Mapping[str, Any]]
) -> CursorResult[Any]:
    """Run ``stmt`` once per row of ``rows`` (all with the same keys); not committed.
    A row's values are Python values, as for ``conn.execute(stmt, rows)``."""
    if conn.dialect.name != "sqlite" or not rows:
        return conn.execute(stmt, list(rows))
    sql, order, processors = _compiled(stmt, tuple(rows[0]), conn.dialect)
    columns: list[list[Any]] = []
    for name, process in zip(order, processors):
        values = [row[name] for row in rows]
        if process is not None:
            values = _converted(values, process)
        columns.append(values)
    return conn.exec_driver_sql(sql, list(zip(*columns)))


def _converted(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    out: list[Any] = []
    last: Any = _converted  # a sentinel no value is
    done: Any = None
    for value in values:
        # The same object as the row before (a batch's one timestamp, its pair):
        # converted once.
        if value is not last:
            last, done = value, process(value)
        out.append(done)
    return out


__all__ = ["executemany"]
