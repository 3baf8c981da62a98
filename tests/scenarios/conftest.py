"""Fixtures of the scenario tests: a sandbox, and a harness per CRM kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scenario_harness import CRM_SIDES, Harness

from nexasync.sandbox import Sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sandbox") as box:
        yield box


@pytest.fixture(params=sorted(CRM_SIDES))
def crm_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def harness(sandbox: Sandbox, tmp_path: Path, crm_kind: str) -> Iterator[Harness]:
    h = Harness(sandbox, tmp_path, crm_kind)
    yield h
    h.store.close()
