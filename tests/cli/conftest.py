"""Fixtures of the command-line tests; helpers are in ``_cli_helpers``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nexasync.sandbox import Sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sandbox") as box:
        yield box
