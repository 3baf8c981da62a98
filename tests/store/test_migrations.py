"""State store schema migrations: old stores upgraded in place, nothing lost, models and
head schema equal, newer stores refused, concurrent first opens safe."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from migration_checks import (
    assert_at_head,
    assert_readable,
    engine_of,
    previous_schema_with_data,
    raw_rows,
)
from sqlalchemy import text
from structlog.testing import capture_logs

from nexasync.store._migrate import (
    _LOCK_KEY,
    VERSION_TABLE,
    current_revision,
    head_revision,
    schema_differences,
)
from nexasync.store.store import Link, StateStore, StoreError

DUMP_0_1_0 = Path(__file__).with_name("data") / "store_0_1_0.sql"


# a store made by 0.1.0


def test_store_made_by_0_1_0_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    conn = sqlite3.connect(db)
    conn.executescript(DUMP_0_1_0.read_text())
    conn.close()
    url = f"sqlite:///{db}"
    before = raw_rows(url)
    assert any(r["pending"] for r in before["links"]) and any(r["lost"] for r in before["links"])
    assert any(r["resolved_at"] is None for r in before["record_errors"])

    with capture_logs() as logs, StateStore(url) as store:
        assert_readable(store, before)
        # ...and it keeps working: the next cycle of a pair can record its run.
        store.start_run("sf", "after-upgrade")
        store.finish_run("after-upgrade", "ok", {})
        runs = {run.id: run.status for run in store.last_runs("sf", limit=1000)}
        assert runs["after-upgrade"] == "ok"
    assert [(e["event"], e["from_revision"]) for e in logs] == [
        ("state store schema upgraded", "unversioned (0.1.0)")
    ]
    after = raw_rows(url)
    after["runs"] = [r for r in after["runs"] if r["id"] != "after-upgrade"]
    assert after == before
    assert_at_head(url)


def test_previous_schema_is_upgraded_in_place(store_url: str) -> None:
    previous_schema_with_data(store_url)
    before = raw_rows(store_url)
    with capture_logs() as logs, StateStore(store_url) as store:
        assert_readable(store, before)
        assert [i.source_id for i in store.open_intents("sf")] == ["n9"]
        assert [link.nexadesk_id for link in store.pending_links("sf")] == ["n2"]
    assert [e["event"] for e in logs] == ["state store schema upgraded"]
    assert raw_rows(store_url) == before
    assert_at_head(store_url)


# every store


def test_new_store_is_created_at_head_and_reopened_without_migrating(store_url: str) -> None:
    with capture_logs() as logs, StateStore(store_url) as store:
        (saved,) = store.save_links(
            [Link(None, "p", "n1", "c1", {"visitor_name": "A"}, {}, "1", "2", None)]
        )
    assert logs == [
        {"event": "state store schema created", "revision": head_revision(), "log_level": "info"}
    ]
    with capture_logs() as logs, StateStore(store_url) as store:
        assert store.link_by_id(saved.id or 0) == saved
    assert logs == []
    with engine_of(store_url) as engine, engine.connect() as conn:
        assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == [
            head_revision()
        ]
    assert_at_head(store_url)


def test_models_match_the_head_schema_and_the_check_sees_drift(store_url: str) -> None:
    StateStore(store_url).close()
    with engine_of(store_url) as engine:
        assert schema_differences(engine) == []
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_record_errors_pair_resolved"))
        diffs = schema_differences(engine)
    assert [(d[0], d[1].name) for d in diffs] == [("add_index", "ix_record_errors_pair_resolved")]


def test_store_of_a_newer_nexasync_is_refused_clearly(store_url: str) -> None:
    StateStore(store_url).close()
    with engine_of(store_url) as engine, engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0999'"))
    with pytest.raises(StoreError) as info:
        StateStore(store_url)
    message = str(info.value)
    assert "0999" in message and "newer nexasync" in message and "never downgrades" in message
    # Raised by us, not an alembic error re-wrapped with its traceback attached.
    assert type(info.value) is StoreError
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_foreign_tables_without_a_version_are_not_adopted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with engine_of(url) as engine, engine.begin() as conn:
        conn.execute(text("CREATE TABLE links (id INTEGER PRIMARY KEY, url TEXT)"))
    with pytest.raises(StoreError, match="not made by nexasync"):
        StateStore(url)


def test_in_memory_store_is_migrated_and_usable() -> None:
    with StateStore("sqlite://") as store:
        store.set_cursor("p", "crm", {"watermark": "w"})
        assert store.get_cursor("p", "crm") == {"watermark": "w"}
        assert current_revision(store._engine) == head_revision()


# concurrent first opens


def _open_store(url: str, barrier: Any, results: Any) -> None:
    """In a child process: open the store once all children are up."""
    try:
        barrier.wait(timeout=60)
        StateStore(url).close()
        results.put("ok")
    except BaseException as exc:  # reported to the parent, which asserts on it
        results.put(f"{type(exc).__name__}: {exc}")


def _open_together(url: str, n: int, before_start: Callable[[], None] = lambda: None) -> list[str]:
    """Open one store from ``n`` new processes at the same moment; their outcomes."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(n + 1), ctx.Queue()
    procs = [ctx.Process(target=_open_store, args=(url, barrier, results)) for _ in range(n)]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=60)
        before_start()
        return sorted(results.get(timeout=60) for _ in procs)
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():  # a hung opener must not hang the suite
                proc.kill()
                proc.join()


def test_concurrent_first_opens_of_a_new_store(store_url: str) -> None:
    assert _open_together(store_url, 4) == ["ok"] * 4
    assert_at_head(store_url)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_opens_wait_for_a_migration_in_progress_on_postgresql(store_url: str) -> None:
    n = 3
    keys = "hashtext(current_schema()), hashtext(:key)"
    with engine_of(store_url) as engine, engine.connect() as holder:
        # Someone is migrating: every opener must queue on the lock, then find it done.
        holder.execute(text(f"SELECT pg_advisory_lock({keys})"), {"key": _LOCK_KEY})
        holder.commit()

        def waiting() -> int:
            query = (
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                f" AND (classid::int, objid::int) = ({keys})"
            )
            waiters = int(holder.execute(text(query), {"key": _LOCK_KEY}).scalar_one())
            holder.commit()
            return waiters

        def release_when_all_wait() -> None:
            deadline = time.monotonic() + 60
            while waiting() < n:
                assert time.monotonic() < deadline, "openers never queued on the migration lock"
                time.sleep(0.01)
            holder.execute(text(f"SELECT pg_advisory_unlock({keys})"), {"key": _LOCK_KEY})
            holder.commit()

        assert _open_together(store_url, n, release_when_all_wait) == ["ok"] * n
    assert_at_head(store_url)


def test_threads_opening_different_stores_at_once(tmp_path: Path) -> None:
    # Separate files take separate database locks: only the process lock keeps
    # alembic's module-level state to one migration at a time.
    urls = [f"sqlite:///{tmp_path / f'state{i}.db'}" for i in range(4)] + ["sqlite://"] * 2
    barrier = threading.Barrier(len(urls))
    errors: list[BaseException] = []

    def open_store(url: str) -> None:
        try:
            barrier.wait(timeout=30)
            with StateStore(url) as store:
                store.set_cursor("p", "crm", {"url": url})
                assert store.get_cursor("p", "crm") == {"url": url}
                assert current_revision(store._engine) == head_revision()
        except BaseException as exc:  # collected: asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=open_store, args=(url,), daemon=True) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    for url in urls[:4]:
        assert_at_head(url)
