"""Store fixtures: every store test runs on a SQLite file and, when
``NEXASYNC_TEST_POSTGRES_URL`` is set, on PostgreSQL in a schema of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from nexasync.store._engine import parse_url
from nexasync.store.store import StateStore

PG_ENV = "NEXASYNC_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL store tests need {PG_ENV} (e.g. postgresql://user@host/db)")
    # A schema per test keeps parallel and repeated runs apart.
    schema = f"nexasync_test_{uuid.uuid4().hex[:12]}"
    parsed = parse_url(base)
    admin = create_engine(parsed)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # A session time zone far from UTC makes any naive/local timestamp handling show.
    options = f"-csearch_path={schema} -cTimeZone=Asia/Kolkata"
    url = parsed.update_query_dict({"options": options})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    state = StateStore(store_url)
    try:
        yield state
    finally:
        state.close()
