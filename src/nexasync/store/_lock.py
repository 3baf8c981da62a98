"""One process at a time per pair and state store, released when its holder dies.

Two syncs of one pair against one store (a cron ``sync --once`` while the service
runs, two replicas) would both read the same changes and both create the same
leads. The lock lives where the state lives, and the operating system or the
database server drops it with the holder's process or connection, so a killed
process never leaves a pair locked:

- SQLite file: an ``flock`` on a file beside the database, one per pair;
- PostgreSQL: a session advisory lock on a connection held for the run, keyed on
  the schema and the pair, so stores in other schemas of one database never clash;
- in-memory SQLite: a lock within the process (no other process can see the store).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text

#: Names this process in a lock's holder description.
HOLDER = {"pid": os.getpid(), "host": socket.gethostname()}


class PairLocked(Exception):
    """Another process (or job) is syncing the pair against this store."""

    def __init__(self, pair: str, holder: str) -> None:
        super().__init__(f"pair {pair!r} is being synced by another process ({holder})")
        self.pair = pair
        self.holder = holder


def _holder() -> dict[str, object]:
    return {**HOLDER, "pid": os.getpid(), "since": datetime.now(timezone.utc).isoformat()}


def _describe(info: dict[str, object]) -> str:
    parts = [f"{k} {info[k]}" for k in ("pid", "host", "since") if info.get(k)]
    return ", ".join(parts) or "holder unknown"


@contextmanager
def pair_lock(engine: Engine, pair: str) -> Iterator[None]:
    """Hold ``pair``'s lock for the ``with`` body; raise :class:`PairLocked` at once
    (never wait) when someone else holds it."""
    backend = engine.dialect.name
    if backend == "postgresql":
        with _pg_lock(engine, pair):
            yield
        return
    database = engine.url.database
    if database in (None, "", ":memory:"):
        with _local_lock(engine, pair):
            yield
        return
    with _file_lock(Path(database), pair):
        yield


# -- SQLite file ---------------------------------------------------------------------


def lock_path(database: Path, pair: str) -> Path:
    # Pair names are restricted to [A-Za-z0-9_.-] by the config, so safe in a name.
    return database.with_name(f"{database.name}.{pair}.lock")


@contextmanager
def _file_lock(database: Path, pair: str) -> Iterator[None]:
    path = lock_path(database, pair)
    # "a+" neither truncates (a contender must not wipe the holder's description)
    # nor fails when the file is missing.
    handle: IO[str] = open(path, "a+")  # noqa: SIM115  (held open for the lock's life)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                info = json.loads(handle.read() or "{}")
            except ValueError:
                info = {}
            raise PairLocked(pair, _describe(info)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_holder()))
        handle.flush()
        try:
            yield
        finally:
            # Emptied, not removed: removing would let a contender that opened the
            # old file lock it while a newcomer locks a new file of the same name.
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


# -- in-memory SQLite ----------------------------------------------------------------

_local: dict[tuple[int, str], threading.Lock] = {}
_local_guard = threading.Lock()


@contextmanager
def _local_lock(engine: Engine, pair: str) -> Iterator[None]:
    with _local_guard:
        lock = _local.setdefault((id(engine), pair), threading.Lock())
    if not lock.acquire(blocking=False):
        raise PairLocked(pair, _describe({"pid": os.getpid(), "host": HOLDER["host"]}))
    try:
        yield
    finally:
        lock.release()


# -- PostgreSQL ----------------------------------------------------------------------

# Two int4 keys: the schema (stores in other schemas of one database never clash)
# and the pair. hashtext collisions only ever make two pairs wait for each other.
_KEYS = "hashtext(current_schema()), hashtext(:pair)"


@contextmanager
def _pg_lock(engine: Engine, pair: str) -> Iterator[None]:
    conn = engine.connect()
    try:
        # Our name in pg_stat_activity is how a contender learns who holds the lock.
        name = f"nexasync pid {os.getpid()} on {HOLDER['host']}"[:63]
        conn.execute(text("SELECT set_config('application_name', :name, false)"), {"name": name})
        got = conn.execute(text(f"SELECT pg_try_advisory_lock({_KEYS})"), {"pair": pair})
        if not got.scalar():
            holder = _pg_holder(conn, pair)
            conn.rollback()
            raise PairLocked(pair, holder)
        # Not inside a transaction: an advisory lock taken with a session lock
        # function outlives commits, and an idle-in-transaction connection would be
        # reaped by servers that limit that.
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text(f"SELECT pg_advisory_unlock({_KEYS})"), {"pair": pair})
            conn.execute(text("RESET application_name"))
            conn.commit()
    finally:
        conn.close()


def _pg_holder(conn: Connection, pair: str) -> str:
    row = conn.execute(
        text(
            "SELECT a.application_name, a.client_addr, a.backend_start "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid::int = hashtext(current_schema()) "
            "AND l.objid::int = hashtext(:pair) AND l.objsubid = 2"
        ),
        {"pair": pair},
    ).first()
    if row is None:
        return "holder unknown"
    name, addr, since = row
    where = f" from {addr}" if addr else ""
    return f"{name or 'unnamed connection'}{where}, connected since {since.isoformat()}"
