"""Fixtures of the service tests: the sandbox, a state store, and the health endpoint
on a free loopback port; helpers are in ``service_support``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nexasync import metrics
from nexasync.health import HealthServer, Readiness
from nexasync.sandbox import Sandbox
from nexasync.store.store import StateStore


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sandbox") as box:
        yield box


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    with StateStore(state_url) as s:
        yield s


@pytest.fixture
def endpoint() -> Iterator[HealthServer]:
    """The endpoint serving the process-wide metrics (readiness is not under test)."""
    with HealthServer("127.0.0.1", 0, lambda: Readiness(True)) as server:
        yield server


@pytest.fixture(autouse=True)
def _unwatch() -> Iterator[None]:
    # metrics.watch is process-wide: leave no store of a finished test behind.
    yield
    metrics.watch(None, ())
