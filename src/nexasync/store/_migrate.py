"""Bringing a state store's schema to the one this code uses, when the store is opened.

- a new, empty store gets every revision;
- a store made by nexasync 0.1.0 (our tables, no version table: it used create_all) is
  stamped at the baseline revision, then upgraded;
- a store at an older revision is upgraded; one at head is left alone (nothing logged);
- a store at a revision this code does not know was upgraded by a newer nexasync: it
  is refused with a :class:`StoreError` saying what to do.

All of it runs in one transaction holding a lock, so processes opening one new store at
the same moment wait for each other instead of creating the tables twice: on PostgreSQL
a transaction-level advisory lock keyed on the schema, on SQLite ``BEGIN IMMEDIATE``
(the write lock, waited for up to the engine's busy timeout). A failed migration rolls
back whole on both. Within a process, migrations also run one at a time (alembic keeps
the running one in module globals).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text

from nexasync.store._values import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")
#: Named for us, so a schema shared with another alembic-managed app never mixes up
#: the two apps' revisions.
VERSION_TABLE = "nexasync_alembic_version"
#: What nexasync 0.1.0's create_all made: a store holding these is stamped here.
BASELINE = "0001"
BASELINE_TABLES = frozenset({"links", "cursors", "intents", "runs", "record_errors", "events"})
#: Second key of the PostgreSQL advisory lock (the first is the schema). The pair
#: locks use pair names there, which cannot hold a space, so this never meets one.
_LOCK_KEY = "nexasync schema migration"

log = structlog.get_logger("nexasync.store")

# alembic's `context` and `op` are module-level proxies to the one running migration:
# two threads migrating at once (two stores, or two in-memory ones) would run each
# other's steps on the wrong connection. Taken before the database lock, always.
_process_lock = threading.Lock()


def alembic_config(
    connection: Connection | None = None, target_metadata: MetaData | None = None
) -> Config:
    """An alembic config for our migrations (no alembic.ini); ``connection`` is the one
    env.py runs them on."""
    config = Config()
    # Config values go through configparser interpolation.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes.update(
        connection=connection, target_metadata=target_metadata, version_table=VERSION_TABLE
    )
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The revision this code's models match."""
    head = _script().get_current_head()
    assert head is not None, "the store migrations have no revision"
    return head


def current_revisions(connection: Connection) -> tuple[str, ...]:
    """The revisions the store is stamped at; () when it has no version table."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return tuple(context.get_current_heads())


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision, None for a new store or one made by 0.1.0."""
    with engine.connect() as conn:
        revisions = current_revisions(conn)
    return revisions[0] if len(revisions) == 1 else None


def migrate(engine: Engine) -> None:
    """Bring the store behind ``engine`` to the head revision (see the module doc)."""
    head = head_revision()
    # Most opens find the store at head: a plain read, no lock, no write.
    with engine.connect() as conn:
        if current_revisions(conn) == (head,):
            return
    with _process_lock, engine.connect() as conn:
        _lock(conn)
        start = current_revisions(conn)
        if start == (head,):
            return  # another process migrated it while we waited for the lock
        _refuse_unknown(start)
        config = alembic_config(conn)
        if not start:
            start = _adopt_unversioned(conn, config)
        command.upgrade(config, "head")
        conn.commit()
    if start:
        log.info("state store schema upgraded", from_revision=",".join(start), to_revision=head)
    else:
        log.info("state store schema created", revision=head)


def _lock(conn: Connection) -> None:
    """Begin the migration transaction, holding the store's migration lock till its end."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext(:key))"),
            {"key": _LOCK_KEY},
        )
    else:
        # pysqlite would begin lazily, and only before DML; take the write lock now so
        # the version check below and the DDL after it see one state of the file.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _refuse_unknown(revisions: Collection[str]) -> None:
    script = _script()
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(set(revisions) - known)
    if unknown:
        raise StoreError(
            f"the state store is at schema revision {', '.join(unknown)}, which this "
            f"nexasync does not know (it knows up to {head_revision()}): a newer nexasync "
            "upgraded it. Run that newer version against it, or point state.url at a copy "
            "restored from before the upgrade; nexasync never downgrades a store."
        )


def _adopt_unversioned(conn: Connection, config: Config) -> tuple[str, ...]:
    """Stamp a store made by 0.1.0 at the baseline; a new store needs nothing yet."""
    ours = BASELINE_TABLES & set(inspect(conn).get_table_names())
    if not ours:
        return ()
    if ours != BASELINE_TABLES:
        missing = ", ".join(sorted(BASELINE_TABLES - ours))
        raise StoreError(
            f"the state store has some of nexasync's tables but not {missing}, and no "
            f"{VERSION_TABLE} table: it was not made by nexasync, or not completely. "
            "Point state.url at a database (or PostgreSQL schema) of nexasync's own."
        )
    command.stamp(config, BASELINE)
    return ("unversioned (0.1.0)",)


def _models_metadata() -> MetaData:
    from nexasync.store.models import TABLES

    metadata = MetaData()
    for table in TABLES:
        table.to_metadata(metadata)
    return metadata


def schema_differences(engine: Engine) -> list[Any]:
    """What alembic's autogenerate finds between the store and the models: [] when a
    store at head matches them (a model edited without a new revision shows here)."""
    from alembic.autogenerate import compare_metadata

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        return list(compare_metadata(context, _models_metadata()))
