"""The store's executemany: what it stores is what SQLAlchemy's own path stores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from nexasync.store._bulk import executemany
from nexasync.store._intents import INTENTS
from nexasync.store._trail import EVENTS
from nexasync.store.store import StateStore

UTC = timezone.utc


def _rows(tag: str) -> list[dict[str, object]]:
    now = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    later = now + timedelta(seconds=1)
    payload = {"visitor_name": "Ann", "tags": ["a", "b"], "amount": 1.5}
    # One timestamp and one payload object shared by rows (converted once), then
    # a different one, then the first again.
    stamps, payloads = [now, now, later, now], [payload, payload, {"x": None}, payload]
    return [
        {"pair": tag, "target": "crm", "op": "create", "source_id": f"s{i}",
         "payload": p, "created_at": t}
        for i, (t, p) in enumerate(zip(stamps, payloads))
    ]  # fmt: skip


def _stored(store: StateStore, tag: str) -> list[tuple[object, ...]]:
    columns = [INTENTS.c[n] for n in ("source_id", "payload", "created_at")]
    stmt = select(*columns).where(INTENTS.c.pair == tag).order_by(INTENTS.c.source_id)
    with store._engine.connect() as conn:
        return [tuple(row) for row in conn.execute(stmt)]


def test_stores_what_sqlalchemy_stores(store: StateStore) -> None:
    with store._engine.begin() as conn:
        conn.execute(insert(INTENTS), _rows("plain"))
        executemany(conn, insert(INTENTS), _rows("bulk"))
    plain, bulk = _stored(store, "plain"), _stored(store, "bulk")
    assert len(bulk) == 4
    assert bulk == plain
    assert bulk[2][1] == {"x": None} and bulk[3][1] == {"visitor_name": "Ann", "tags": ["a", "b"],
                                                        "amount": 1.5}  # fmt: skip
    assert [row[2] for row in bulk] == [r["created_at"] for r in _rows("x")]


def test_a_naive_timestamp_is_refused_as_before(store: StateStore) -> None:
    rows = _rows("naive")
    rows[1]["created_at"] = datetime(2026, 3, 1, 12, 0)
    with pytest.raises(Exception, match="naive datetime"), store._engine.begin() as conn:
        executemany(conn, insert(INTENTS), rows)
    assert _stored(store, "naive") == []


def test_rows_must_carry_the_statements_binds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    try:
        rows = [{"run_id": "r", "pair": "p", "action": "create", "detail": "d"}]
        with store._engine.begin() as conn:
            # A bound value the rows do not carry, and rows carrying one not bound.
            for stmt in (
                insert(EVENTS).values(at=datetime.now(UTC)),
                select(EVENTS.c.id).where(EVENTS.c.pair == "p"),
            ):
                with pytest.raises(ValueError, match="rows carry"):
                    executemany(conn, stmt, rows)
    finally:
        store.close()
