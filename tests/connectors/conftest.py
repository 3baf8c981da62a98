"""The Salesforce emulator the Salesforce connector modules share (``ca``, ``sandbox``).
Modules of other systems define a ``sandbox`` of their own, which takes precedence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _salesforce_env import Sandbox

from nexasync.sandbox._http import TestCA


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("sf-ca"))


@pytest.fixture
def sandbox(ca: TestCA) -> Iterator[Sandbox]:
    box = Sandbox(ca)
    yield box
    box.close()
