"""The bundled sandbox: NexaDesk, Salesforce and HubSpot emulators on loopback, seeded, with
a config that points nexasync at them. Used by ``nexasync sandbox``, by
``nexasync sync --once`` when no config exists, and by the tests and benchmarks.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from nexasync.sandbox._http import Emulator, Faults, ServerThread, TestCA, shown_host

__all__ = ["Sandbox", "Emulator", "Faults", "ServerThread", "TestCA"]

ND_KEY = "nd_sandbox_key"


class Sandbox:
    """Both emulators, started together. ``with Sandbox() as sb: sb.config(...)``."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        nexadesk_port: int = 0,
        salesforce_port: int = 0,
        hubspot_port: int = 0,
        seed_nexadesk: int = 0,
        seed_salesforce: int = 0,
        seed_hubspot: int = 0,
        seed: int = 0,
        host: str = "127.0.0.1",
        advertise_host: str | None = None,
    ) -> None:
        from nexasync.sandbox.hubspot import HubSpotEmulator
        from nexasync.sandbox.nexadesk import NexaDeskEmulator
        from nexasync.sandbox.salesforce import SalesforceEmulator

        self._tmp = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="nexasync-sandbox-")
            directory = Path(self._tmp.name)
        self.directory = directory
        # The name the URLs show goes in the certificate: clients verify the host they dial.
        self.ca = TestCA(directory, (shown_host(host, advertise_host),))
        self.nexadesk = NexaDeskEmulator(ND_KEY)
        self.salesforce = SalesforceEmulator()
        self.hubspot = HubSpotEmulator()
        if seed_nexadesk:
            self.nexadesk.seed(seed_nexadesk, seed=seed)
        if seed_salesforce:
            self.salesforce.seed(seed_salesforce, seed=seed + 1)
        if seed_hubspot:
            self.hubspot.seed(seed_hubspot, seed=seed + 2)
        where = {"host": host, "advertise_host": advertise_host}
        self._servers = [
            ServerThread(self.nexadesk, nexadesk_port, **where),
            ServerThread(self.salesforce, salesforce_port, ca=self.ca, **where),
            ServerThread(self.hubspot, hubspot_port, **where),
        ]
        self.nexadesk_url = self._servers[0].url
        self.salesforce_url = self._servers[1].url
        self.hubspot_url = self._servers[2].url

    def start(self) -> Sandbox:
        for server in self._servers:
            server.start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def crm(self, kind: str) -> Emulator:
        """The emulator of one CRM kind."""
        return {"salesforce": self.salesforce, "hubspot": self.hubspot}[kind]

    def pair_config(
        self, name: str = "sandbox", crm_kind: str = "salesforce", **overrides: Any
    ) -> dict[str, Any]:
        """A pair section (plain data, as it would read from YAML) for these emulators,
        syncing NexaDesk with the ``crm_kind`` CRM."""
        pair: dict[str, Any] = {
            "name": name,
            "nexadesk": {"base_url": self.nexadesk_url, "api_key": ND_KEY},
            "crm": self._crm_section(crm_kind),
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(pair.get(key), dict):
                pair[key] = {**pair[key], **value}
            else:
                pair[key] = value
        return pair

    def _crm_section(self, kind: str) -> dict[str, Any]:
        if kind == "hubspot":
            return {
                "type": "hubspot",
                "base_url": self.hubspot_url,
                "access_token": self.hubspot.access_token,
                "fields": {
                    "source": "nexadesk_source",
                    "expected_billing_amount": "nexadesk_amount",
                    "tags": "nexadesk_tags",
                },
            }
        sf = self.salesforce
        return {
            "type": "salesforce",
            "login_url": self.salesforce_url,
            "ca_bundle": str(self.ca.ca_bundle),
            "auth": {
                "username": sf.username,
                "password": sf.password,
                "security_token": sf.security_token,
            },
            "external_id_field": "NexaDesk_Id__c",
            "fields": {
                "expected_billing_amount": "Expected_Amount__c",
                "tags": "NexaDesk_Tags__c",
            },
        }

    def config(
        self, state_url: str, crm_kind: str = "salesforce", **overrides: Any
    ) -> dict[str, Any]:
        pair = self.pair_config(crm_kind=crm_kind, **overrides)
        return {"state": {"url": state_url}, "pairs": [pair]}
