"""Checks shared by the migration tests: a store's rows read raw and through the API,
the head schema, and a store as nexasync 0.1.0 left it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from alembic import command
from sqlalchemy import Engine, insert, inspect, text

from nexasync.store._engine import make_engine
from nexasync.store._migrate import (
    BASELINE,
    VERSION_TABLE,
    alembic_config,
    current_revision,
    head_revision,
    schema_differences,
)
from nexasync.store.models import TABLES
from nexasync.store.store import StateStore

UTC = timezone.utc
#: Each table of the 0.1.0 schema and the key its rows are compared in.
KEYS = {
    "links": "id",
    "cursors": "pair, side",
    "intents": "id",
    "runs": "id",
    "record_errors": "id",
    "events": "id",
}
INDEXES_0002 = {
    "runs": ("ix_runs_pair_status_finished", ["pair", "status", "finished_at"]),
    "record_errors": ("ix_record_errors_pair_resolved", ["pair", "resolved_at"]),
}


@contextmanager
def engine_of(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def raw_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as the database hands it back (no model in between)."""
    with engine_of(url) as engine, engine.connect() as conn:
        return {
            table: [
                dict(row)
                for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY {key}")).mappings()
            ]
            for table, key in KEYS.items()
        }


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _plain(value: Any) -> Any:
    # The store hands tags back as tuples; JSON holds lists.
    return json.loads(json.dumps(value))


def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite keeps naive UTC text
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.astimezone(UTC)


def assert_readable(store: StateStore, raw: dict[str, list[dict[str, Any]]]) -> None:
    """Every row of ``raw`` reads back through the store's API with the same values."""
    assert raw["links"] and raw["cursors"] and raw["runs"] and raw["events"]
    for row in raw["links"]:
        link = store.link_by_id(row["id"])
        assert link is not None
        assert (link.pair, link.nexadesk_id, link.crm_id) == (
            row["pair"],
            row["nexadesk_id"],
            row["crm_id"],
        )
        assert (link.nexadesk_version, link.crm_version) == (
            row["nexadesk_version"],
            row["crm_version"],
        )
        assert _plain(link.base_nexadesk) == _json(row["base_nexadesk"])
        assert _plain(link.base_crm) == _json(row["base_crm"])
        assert _plain(link.pending) == _json(row["pending"])
        assert link.lost == row["lost"]
    for pair in {row["pair"] for row in raw["links"]}:
        assert [link.id for link in store.iter_links(pair)] == [
            row["id"] for row in raw["links"] if row["pair"] == pair
        ]
    for row in raw["cursors"]:
        assert store.get_cursor(row["pair"], row["side"]) == _json(row["value"])
    runs = {run.id: run for run in store.last_runs(limit=1000)}
    assert set(runs) == {row["id"] for row in raw["runs"]}
    for row in raw["runs"]:
        run = runs[row["id"]]
        assert (run.pair, run.status, run.error) == (row["pair"], row["status"], row["error"])
        assert run.summary == _json(row["summary"])
        assert (run.started_at, run.finished_at) == (
            _ts(row["started_at"]),
            _ts(row["finished_at"]),
        )
    open_errors = {
        (e.pair, e.side, e.record_id, e.op, e.attempts, e.next_retry_at)
        for e in store.open_errors()
    }
    assert open_errors == {
        (r["pair"], r["side"], r["record_id"], r["op"], r["attempts"], _ts(r["next_retry_at"]))
        for r in raw["record_errors"]
        if r["resolved_at"] is None
    }
    for row in raw["events"]:
        found = store.events_for(row["nexadesk_id"] or row["crm_id"], limit=1000)
        (event,) = [e for e in found if e.id == row["id"]]
        assert (event.run_id, event.action, event.detail) == (
            row["run_id"],
            row["action"],
            row["detail"],
        )
        assert event.at == _ts(row["at"])


def assert_at_head(url: str) -> None:
    with engine_of(url) as engine:
        assert current_revision(engine) == head_revision()
        inspector = inspect(engine)
        for table, (name, columns) in INDEXES_0002.items():
            assert {"name": name, "columns": columns} in [
                {"name": i["name"], "columns": i["column_names"]}
                for i in inspector.get_indexes(table)
            ]
        assert schema_differences(engine) == []


def previous_schema_with_data(url: str) -> None:
    """What 0.1.0 left behind: the baseline tables, no version table, rows in them
    (written through the models' column types, as 0.1.0 wrote them)."""
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    base = {"visitor_name": "Ada Lovelace", "tags": ["vip", "eu"], "pipeline_stage": "new"}
    link = {"nexadesk_version": "n-v3", "crm_version": "c-v3", "lost": None, "pending": None}
    link.update(pair="sf", base_nexadesk=base, base_crm=base, updated_at=t0)
    error = {"pair": "sf", "side": "crm", "op": "update", "reason": "INVALID_EMAIL"}
    error.update(attempts=2, first_seen=t0, last_seen=t0, next_retry_at=t0 + timedelta(hours=1))
    rows: dict[str, list[dict[str, Any]]] = {
        "links": [
            {**link, "nexadesk_id": "n1", "crm_id": "c1", "base_crm": {**base, "tags": ["vip"]}},
            {**link, "nexadesk_id": "n2", "crm_id": "c2", "pending": {"crm": {"fields": base}}},
            {**link, "pair": "hs", "nexadesk_id": "n1", "crm_id": "101", "lost": "deleted in crm"},
        ],
        "cursors": [
            {"pair": "sf", "side": "nexadesk", "value": {"watermark": "w1"}, "updated_at": t0},
            {"pair": "sf", "side": "crm", "value": {"seen": [1, 2]}, "updated_at": t0},
        ],
        "runs": [
            {
                "id": f"r{i}",
                "pair": "sf",
                "started_at": t0 + timedelta(minutes=i),
                "finished_at": t0 + timedelta(minutes=i, seconds=5),
                "status": status,
                "summary": {"directions": {"nexadesk->crm": {"created": i}}},
                "error": "boom" if status == "failed" else None,
            }
            for i, status in enumerate(["ok", "failed", "partial"])
        ],
        "record_errors": [
            {**error, "record_id": "c2", "resolved_at": None},
            {**error, "record_id": "c1", "resolved_at": t0},
        ],
        "events": [
            {"run_id": "r0", "pair": "sf", "nexadesk_id": "n1", "crm_id": "c1"}
            | {"action": "create crm", "detail": "created", "at": t0}
        ],
        "intents": [
            {"pair": "sf", "target": "crm", "op": "create", "source_id": "n9"}
            | {"payload": base, "created_at": t0}
        ],
    }
    tables = {table.name: table for table in TABLES}
    with engine_of(url) as engine, engine.begin() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        for name, values in rows.items():
            conn.execute(insert(tables[name]), values)
