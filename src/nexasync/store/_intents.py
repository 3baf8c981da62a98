"""Write-ahead intents: the creates about to be sent, so a crash mid-batch is recovered.

Recorded and cleared once per write batch, so these are Core statements built once
(cached compiled forms) and run as executemany, not ORM rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, select

from nexasync.lead import from_json, to_json
from nexasync.store._bulk import executemany
from nexasync.store._sql import chunks, upsert_insert
from nexasync.store._values import Intent
from nexasync.store.models import IntentRow, utcnow

INTENTS: Table = IntentRow.__table__  # type: ignore[attr-defined]
_KEY = ("pair", "target", "op", "source_id")

_CLEAR = delete(INTENTS).where(
    INTENTS.c.pair == bindparam("pair"),
    INTENTS.c.target == bindparam("target"),
    INTENTS.c.op == bindparam("op"),
    INTENTS.c.source_id.in_(bindparam("ids", expanding=True)),
)
_OPEN = (
    select(*(INTENTS.c[name] for name in (*_KEY, "payload", "created_at")))
    .where(INTENTS.c.pair == bindparam("pair"))
    .order_by(INTENTS.c.created_at, INTENTS.c.id)
)


@cache
def _upsert(dialect: str) -> Any:
    # Adding one again keeps its created_at and takes the newer payload.
    stmt = upsert_insert(dialect, INTENTS)
    return stmt.on_conflict_do_update(
        index_elements=list(_KEY), set_={"payload": stmt.excluded.payload}
    )


def add_intents(
    conn: Connection, pair: str, target: str, op: str, items: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    now = utcnow()
    # One statement may not touch a row twice (PostgreSQL batches an executemany
    # into multi-row VALUES): the last payload wins.
    latest = {source_id: payload for source_id, payload in items}
    rows = [
        {
            "pair": pair,
            "target": target,
            "op": op,
            "source_id": source_id,
            # json.dumps writes a tuple as a list: a dict needs no to_json copy.
            "payload": payload if type(payload) is dict else to_json(payload),
            "created_at": now,
        }
        for source_id, payload in latest.items()
    ]
    if rows:
        executemany(conn, _upsert(conn.dialect.name), rows)


def clear_intents(
    conn: Connection, pair: str, target: str, op: str, source_ids: Sequence[str]
) -> None:
    for chunk in chunks(source_ids):
        conn.execute(_CLEAR, {"pair": pair, "target": target, "op": op, "ids": chunk})


def open_intents(conn: Connection, pair: str) -> list[Intent]:
    return [
        Intent(pair_, target, op, source_id, from_json(payload), created_at)
        for pair_, target, op, source_id, payload, created_at in conn.execute(
            _OPEN, {"pair": pair}
        )
    ]
