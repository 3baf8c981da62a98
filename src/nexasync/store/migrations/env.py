"""Alembic environment of the state store.

Only ever run through :mod:`nexasync.store._migrate`, which hands over a connection
already inside the transaction that holds the migration lock; alembic then neither
begins nor commits (the caller commits once every step has run).
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import TypeDecorator

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the nexasync store migrations run from nexasync.store._migrate, not the alembic CLI"
    )


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Revisions spell plain types: a model's TypeDecorator (UTCDateTime, sqlmodel's
    # AutoString) would tie the frozen revision to code that keeps changing.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


context.configure(
    connection=connection,
    target_metadata=config.attributes.get("target_metadata"),
    version_table=config.attributes["version_table"],
    # SQLite alters a table by copying it: later revisions need batch operations there.
    render_as_batch=connection.dialect.name == "sqlite",
    # The caller runs everything in one transaction (SQLite's DDL is transactional too).
    transactional_ddl=True,
    render_item=_render_item,
)
with context.begin_transaction():
    context.run_migrations()
