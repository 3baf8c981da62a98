"""The HubSpot connector: contacts through hubspot-api-client.

Reads are a search for the newest changes, checked by search totals (the recent
window, the live contacts) rather than re-read, with a windowed search on
``lastmodifieddate`` (complete past the search's 10,000-result cap) when more is
needed; archived contacts are listed only when the live count drops, telling a
merge from a delete. Writes go through the batch APIs, 100 records a call, a
result per record. The pieces live in private modules: mapping (``_hs_mapping``),
owners (``_hs_owners``), the client with retries, pacing and counting
(``_hs_api``, ``_hs_rate``), reads (``_hs_search``, ``_hs_window``, ``_hs_pull``,
``_hs_deletes``), finding existing contacts (``_hs_claims``) and writes
(``_hs_batch``, ``_hs_creates``, ``_hs_writes``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from nexasync._config_hubspot import HubSpotConfig
from nexasync.connectors._crm_base import CrmConnector
from nexasync.connectors._hs_api import HubSpotApi, HubSpotApiError
from nexasync.connectors._hs_claims import ContactFinder, Key, contact_key
from nexasync.connectors._hs_creates import ContactCreator
from nexasync.connectors._hs_mapping import ContactMapping, MappingError, NoOwners
from nexasync.connectors._hs_owners import OwnerCache
from nexasync.connectors._hs_pull import ContactPuller, read_record
from nexasync.connectors._hs_writes import ContactWriter
from nexasync.connectors._owners import OwnerMap
from nexasync.connectors.base import (
    Check,
    Record,
)
from nexasync.lead import Lead, norm_email

__all__ = ["HubSpotApiError", "HubSpotConnector"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class HubSpotConnector(CrmConnector):
    system = "hubspot"
    write_batch_size = 100

    def __init__(
        self,
        config: HubSpotConfig,
        *,
        clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        backoff_seconds: float = 1.0,
        multi_status: bool = True,
    ) -> None:
        """``clock`` is the time lost creates are looked for from; ``monotonic`` and
        ``sleep`` pace searches and wait out retries; ``backoff_seconds`` scales the
        retry waits after 5xx and connection errors. ``multi_status`` sends a trace id
        with each batch input, so HubSpot refuses bad inputs one by one (207) rather
        than failing their whole batch, which is then split to find them."""
        self.config = config
        self._api = HubSpotApi(config, backoff_seconds=backoff_seconds,
                               monotonic=monotonic, sleep=sleep)
        #: Requests made, by kind ("search", "list_archived", "batch_create", ...).
        self.stats: Counter[str] = self._api.stats
        self._mapping = ContactMapping.from_config(config)
        owner_cache = OwnerCache(self._api)
        self._owners = OwnerMap(
            config.rep_map, by_email=config.rep_by_email,
            load_users=owner_cache.load, clock=monotonic,
        )
        self._finder = ContactFinder(
            self._api, self._mapping.properties,
            email_property=self._mapping.fields.get("visitor_email"),
            overlap_seconds=config.overlap_seconds,
        )
        self._puller = ContactPuller(self._api, self._mapping, self._owners,
                                     overlap_seconds=config.overlap_seconds,
                                     owner_cache=owner_cache)
        self._creator = ContactCreator(
            self._api, self._mapping, self._owners, claims=self._finder, clock=clock,
            read_record=self._record, multi_status=multi_status,
        )
        self._writer = ContactWriter(self._api, self._mapping, self._owners,
                                     multi_status=multi_status)

    def check(self) -> list[Check]:
        from nexasync.connectors._hs_check import run_checks

        return run_checks(self.config, self._mapping)

    # -- matching --------------------------------------------------------------------------
    def match(self, leads: Sequence[Lead]) -> list[list[Record]]:
        keys: list[Key | None] = []
        for lead in leads:
            email = norm_email(lead.get("visitor_email"))
            if email and self._finder.email_property:
                keys.append(("email", (email,)))
                continue
            try:
                # The name as HubSpot stores it (split, maybe truncated).
                props = self._mapping.write(
                    {"visitor_name": lead.get("visitor_name")}, NoOwners(), create=False)
            except MappingError:
                keys.append(None)
                continue
            key = contact_key(props, None)
            keys.append(key if any(key[1]) else None)
        found = self._finder.find([k for k in keys if k is not None])
        return [[self._record(row) for row in found.get(k, [])] if k is not None else []
                for k in keys]

    def _record(self, row: dict[str, Any]) -> Record:
        return read_record(row, self._mapping, self._owners, None)
