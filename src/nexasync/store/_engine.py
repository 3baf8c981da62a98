"""Building the SQLAlchemy engine for a store URL (SQLite file or PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool
from sqlmodel import create_engine

#: How long a writer waits for another connection's lock before giving up (ms): a
#: status command reading while a sync writes must wait, not fail.
BUSY_TIMEOUT_MS = 15_000


class StoreUrlError(ValueError):
    """A state store URL this store cannot use."""


def parse_url(url: str) -> URL:
    # Heroku-style and many hosting dashboards hand out "postgres://", which
    # SQLAlchemy no longer accepts under that name.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except ArgumentError:
        # The URL may carry a password: never echo it back.
        raise StoreUrlError("state store URL is not a valid database URL") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreUrlError(
            f"state store URL must be sqlite:/// or postgresql://, not {backend}://"
        )
    if parsed.drivername == "postgresql":
        # SQLAlchemy 2.1 defaults to psycopg 3; the package ships with psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        # WAL lets readers (status, explain) run alongside the one writer (a sync).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Durable at commit boundaries with WAL, and much cheaper than FULL.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        in_memory = parsed.database in (None, "", ":memory:")
        kwargs: dict[str, Any] = {
            "connect_args": {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        }
        if in_memory:
            # Every new connection to ":memory:" is a new empty database: share one.
            kwargs["poolclass"] = StaticPool
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A long-running daemon outlives server restarts and idle-connection reapers.
    # Batched executemany: a batch of link updates is a few round trips instead of
    # one per row (inserts are multi-row VALUES either way).
    return create_engine(parsed, pool_pre_ping=True, executemany_mode="values_plus_batch")
