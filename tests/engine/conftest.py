"""Fixtures for the engine tests: a state store per test, pair configs, and a NexaDesk
and a lossy CRM held in memory on one clock.

Test modules do not import from here (a directory without a package marker makes
``conftest`` ambiguous); whatever they share is a fixture.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from nexasync.config import PairConfig
from nexasync.connectors.memory import MemoryConnector
from nexasync.store.store import StateStore

Systems = Callable[..., tuple[MemoryConnector, MemoryConnector]]
ConfigFactory = Callable[..., PairConfig]


def make_config(
    rules: Mapping[str, str] | None = None, deletes: Mapping[str, Any] | None = None
) -> PairConfig:
    return PairConfig.model_validate(
        {
            "name": "p",
            "nexadesk": {"api_key": "x"},
            "crm": {"auth": {"session_id": "s"}},
            "rules": dict(rules or {}),
            "deletes": dict(deletes or {}),
        }
    )


def make_systems(
    *,
    name_limit: int | None = 20,
    stage_map: Mapping[str, str] | None = None,
    read_only: set[str] | None = None,
) -> tuple[MemoryConnector, MemoryConnector]:
    """NexaDesk and a CRM on one clock, so "newest change wins" compares like with like."""
    clock = itertools.count(1)
    crm_stages = {"qualified": "contacted", "assigned": "new"} if stage_map is None else stage_map
    return (
        MemoryConnector("nexadesk", clock=clock),
        MemoryConnector(
            "crm",
            name_limit=name_limit,
            stage_map=dict(crm_stages),
            read_only=read_only,
            clock=clock,
        ),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        yield state
    finally:
        state.close()


@pytest.fixture
def pair_config() -> ConfigFactory:
    return make_config


@pytest.fixture
def systems() -> Systems:
    return make_systems
