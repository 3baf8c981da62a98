"""Fixtures of the emulator tests. The HubSpot ones: one server per module; each
module's own ``emu`` fixture sets the clock and limits it needs and resets it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hubspot import HubSpot
from hubspot_support import TOKEN

from nexasync.sandbox._http import ServerThread
from nexasync.sandbox.hubspot import HubSpotEmulator


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[HubSpotEmulator, ServerThread]]:
    emu = HubSpotEmulator(TOKEN)
    with ServerThread(emu) as server:
        yield emu, server


@pytest.fixture
def api(served: tuple[HubSpotEmulator, ServerThread], emu: HubSpotEmulator) -> HubSpot:
    return HubSpot(access_token=TOKEN, host=served[1].url)


@pytest.fixture
def raw(
    served: tuple[HubSpotEmulator, ServerThread], emu: HubSpotEmulator
) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=served[1].url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as client:
        yield client
