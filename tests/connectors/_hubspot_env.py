"""A HubSpot emulator on loopback and connectors pointed at it, for the connector tests.

Both sides run on one fake timeline: the emulator's clock (timestamps, rate-limit
windows) and the connector's monotonic clock and sleep. A connector that waits
moves the timeline instead of sleeping, so pacing and 429 waits are exact and fast.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from nexasync._config_hubspot import HubSpotConfig
from nexasync.connectors.base import Record
from nexasync.connectors.hubspot import HubSpotConnector
from nexasync.sandbox._http import ServerThread, TestCA
from nexasync.sandbox.hubspot import HubSpotEmulator

TOKEN = "hs_sandbox_token"
CUSTOM = {"source": "nexadesk_source", "expected_billing_amount": "nexadesk_amount",
          "tags": "nexadesk_tags"}


class Timeline:
    """Fake time shared by the emulator and the connector."""

    def __init__(self) -> None:
        self.start = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
        self.seconds = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.seconds += max(0.0, seconds)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    def advance(self, **delta: float) -> None:
        with self._lock:
            self.seconds += timedelta(**delta).total_seconds()


class Sandbox:
    def __init__(self, ca: TestCA | None = None, **emulator: Any) -> None:
        self.time = Timeline()
        self.emulator = HubSpotEmulator(TOKEN, clock=self.time.now, **emulator)
        self.server = ServerThread(self.emulator, ca=ca).start()
        self.url = self.server.url
        self.ca = ca
        self._connectors: list[HubSpotConnector] = []

    def config(self, **overrides: Any) -> HubSpotConfig:
        settings: dict[str, Any] = {
            "type": "hubspot", "base_url": self.url, "access_token": TOKEN, "fields": CUSTOM,
            "max_retries": 2, "timeout": 10, "overlap_seconds": 0,
        }
        if self.ca is not None:
            settings["ca_bundle"] = self.ca.ca_bundle
        settings.update(overrides)
        return HubSpotConfig(**settings)

    def connector(self, *, multi_status: bool = True, **overrides: Any) -> HubSpotConnector:
        connector = HubSpotConnector(
            self.config(**overrides), clock=self.time.now, monotonic=self.time.monotonic,
            sleep=self.time.sleep, backoff_seconds=0.001, multi_status=multi_status,
        )
        self._connectors.append(connector)
        return connector

    def contact(self, **props: Any) -> str:
        """A contact added straight into the account, a second after the last change."""
        self.time.advance(seconds=1)
        return self.emulator.add_contact(**props)

    def close(self) -> None:
        for connector in self._connectors:
            connector.close()
        # Stopping waits out the server loop's poll; no test needs to wait for it.
        threading.Thread(target=self.server.stop, daemon=True).start()


def by_id(records: Iterable[Record]) -> dict[str, Record]:
    return {r.id: r for r in records}


def drain(pull: Any) -> list[Record]:
    return list(pull)
