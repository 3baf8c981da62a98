"""A Salesforce emulator over HTTPS and connectors pointed at it, for the connector tests."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from nexasync.config import SalesforceAuth, SalesforceConfig
from nexasync.connectors.base import Record
from nexasync.connectors.salesforce import SalesforceConnector
from nexasync.sandbox._http import ServerThread, TestCA
from nexasync.sandbox.salesforce import SalesforceEmulator

USERNAME, PASSWORD, TOKEN = "sandbox@example.com", "sandbox-password", "sandbox-token"
CONSUMER_KEY, CONSUMER_SECRET = "sandbox-consumer-key", "sandbox-consumer-secret"
CUSTOM = {"expected_billing_amount": "Expected_Amount__c", "tags": "NexaDesk_Tags__c"}


class Clock:
    """The emulator's and the connector's time: moves only when a test says so."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Sandbox:
    def __init__(self, ca: TestCA, **emulator: Any) -> None:
        self.ca = ca
        self.clock = Clock()
        self.emulator = SalesforceEmulator(clock=self.clock, **emulator)
        self.server = ServerThread(self.emulator, ca=ca).start()
        self.url = self.server.url
        self._connectors: list[SalesforceConnector] = []

    def config(self, **overrides: Any) -> SalesforceConfig:
        settings: dict[str, Any] = {
            "login_url": self.url, "ca_bundle": self.ca.ca_bundle, "fields": CUSTOM,
            "auth": SalesforceAuth(username=USERNAME, password=PASSWORD, security_token=TOKEN),
            "max_retries": 2, "timeout": 10, "overlap_seconds": 0,
        }
        settings.update(overrides)
        return SalesforceConfig(**settings)

    def connector(self, *, query_batch_size: int | None = None,
                  **overrides: Any) -> SalesforceConnector:
        connector = SalesforceConnector(
            self.config(**overrides), clock=self.clock, backoff_seconds=0.001,
            query_batch_size=query_batch_size,
        )
        self._connectors.append(connector)
        return connector

    def lead(self, **fields: Any) -> str:
        """A lead added straight into the org, a second later than the last change."""
        self.clock.advance(seconds=1)
        return self.emulator.add_lead(**{"Company": "Acme", **fields})

    def close(self) -> None:
        for connector in self._connectors:
            connector.close()
        # Stopping waits out the server loop's half-second poll; no test needs to wait.
        threading.Thread(target=self.server.stop, daemon=True).start()


def by_id(records: Iterable[Record]) -> dict[str, Record]:
    return {r.id: r for r in records}
