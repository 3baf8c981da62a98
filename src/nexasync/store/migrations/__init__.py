"""Alembic migrations of the state store, run by :func:`nexasync.store._migrate.migrate`
whenever a store is opened; there is no alembic.ini.

A revision is a frozen snapshot: it spells out plain SQLAlchemy types and never imports
``nexasync.store.models``, so later edits to the models cannot change what an old
revision does. To add one after changing ``models.py``, from the repository root::

    .venv/bin/python -m nexasync.store.migrations 0003 "what changed"

which autogenerates ``versions/0003_what_changed.py`` against a scratch SQLite store at
head; review it (PostgreSQL-only details, partial indexes and data moves need a hand),
then run ``tests/store/test_migrations.py``, which fails while models and head differ.
"""
