"""The Salesforce connector: Leads through simple-salesforce.

Reads are one ``queryAll`` per cycle over ``SystemModstamp`` (soft deletes
included; a large overlap window checked by one aggregate query), plus a periodic
getDeleted for purged leads; the active users read to map owners ride in the cursor.
Writes go through sObject Collections, 200 records a call, a result per record. The
pieces live in private modules: mapping (``_sf_mapping``), owners (``_owners``), the
HTTP layer with
auth, retries and counting (``_sf_api``, ``_sf_auth``), reads (``_sf_pull``) and
writes (``_sf_writes``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from nexasync.config import SalesforceConfig
from nexasync.connectors._crm_base import CrmConnector
from nexasync.connectors._mapping import MappingError, NoOwners
from nexasync.connectors._owners import OwnerMap
from nexasync.connectors._sf_api import SalesforceApi, SalesforceApiError
from nexasync.connectors._sf_auth import SalesforceAuthError
from nexasync.connectors._sf_mapping import LeadMapping
from nexasync.connectors._sf_pull import (
    SYSTEM_FIELDS,
    LeadPuller,
    parse_sf_datetime,
    read_record,
)
from nexasync.connectors._sf_writes import LeadWriter, key_clause, match_key
from nexasync.connectors.base import (
    Check,
    Cursor,
    KnownIds,
    Pull,
    Record,
)
from nexasync.lead import Lead, norm_email

__all__ = ["SalesforceApiError", "SalesforceAuthError", "SalesforceConnector"]

#: Keep each match query's WHERE clause well under the URL length Salesforce accepts.
MAX_WHERE_CHARS = 3500
#: An org with more active users than this has them read once per process, not kept
#: in the cursor.
MAX_SAVED_USERS = 2000


class _WithUsers(Pull):
    """The lead pull, whose cursor also carries the active users read, so the next
    process need not read them again. The engine stores the cursor after the cycle's
    writes, so users read to write owners are kept too."""

    def __init__(self, pull: Pull, users: Callable[[], dict[str, Any] | None]) -> None:
        self._pull = pull
        self._users = users
        cursor, complete = pull.cursor, pull.complete
        super().__init__(pull)  # resets both, through the setters below
        pull.cursor, pull.complete = cursor, complete

    @property  # type: ignore[override]
    def cursor(self) -> Cursor | None:
        base = self._pull.cursor
        users = self._users()
        return base if base is None or users is None else {**base, "users": users}

    @cursor.setter
    def cursor(self, value: Cursor | None) -> None:
        self._pull.cursor = value

    @property  # type: ignore[override]
    def complete(self) -> bool:
        return self._pull.complete

    @complete.setter
    def complete(self, value: bool) -> None:
        self._pull.complete = value


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SalesforceConnector(CrmConnector):
    system = "salesforce"
    write_batch_size = 200

    def __init__(
        self,
        config: SalesforceConfig,
        *,
        clock: Callable[[], datetime] = _utcnow,
        backoff_seconds: float = 1.0,
        query_batch_size: int | None = None,
    ) -> None:
        """``clock`` is the time getDeleted windows are measured in; ``backoff_seconds``
        scales the retry waits; ``query_batch_size`` asks for smaller query pages."""
        self.config = config
        self._clock = clock
        self._api = SalesforceApi(config, backoff_seconds=backoff_seconds)
        #: Requests made, by kind ("login", "queryAll", "collections_update", ...).
        self.stats: Counter[str] = self._api.stats
        self._mapping = LeadMapping.from_config(config)
        self._owners = OwnerMap(
            config.rep_map, by_email=config.rep_by_email, load_users=self._load_users
        )
        #: When the users the owners map holds were read (by this process or an earlier one).
        self._users_read_at: datetime | None = None
        #: Leads seen converted: never written (Salesforce refuses it anyway).
        self._converted: set[str] = set()
        self._puller = LeadPuller(
            self._api, self._mapping, self._owners,
            overlap_seconds=config.overlap_seconds,
            deleted_check_seconds=config.deleted_check_seconds,
            clock=clock, on_converted=self._converted.add, batch_size=query_batch_size,
        )
        self._writer = LeadWriter(
            self._api, self._mapping, self._owners,
            external_id_field=config.external_id_field, max_retries=config.max_retries,
            backoff_seconds=backoff_seconds, overlap_seconds=config.overlap_seconds,
            clock=clock, is_converted=self._converted.__contains__,
        )
        self._creator = self._writer

    # -- matching --------------------------------------------------------------------------
    def match(self, leads: Sequence[Lead]) -> list[list[Record]]:
        email_field = self._mapping.fields.get("visitor_email")
        keys: list[tuple[str, tuple[str | None, ...]] | None] = []
        for lead in leads:
            email = norm_email(lead.get("visitor_email"))
            if email and email_field:
                keys.append(("email", (email,)))
                continue
            try:
                # The name as Salesforce stores it (split, maybe truncated).
                name = self._mapping.write(
                    {"visitor_name": lead.get("visitor_name")}, NoOwners(), create=False
                )
            except MappingError:
                keys.append(None)
                continue
            keys.append(match_key(name, None))
        wanted = {k for k in keys if k is not None}
        found: dict[tuple[str, tuple[str | None, ...]], list[Record]] = {}
        select = ", ".join([*self._mapping.sf_fields,
                            *(f for f in SYSTEM_FIELDS if f not in self._mapping.sf_fields)])
        for where in self._where_chunks(sorted(wanted, key=repr), email_field):
            soql = f"SELECT {select} FROM Lead WHERE {where} ORDER BY CreatedDate, Id"
            for row in self._api.query_records(soql):
                record = read_record(row, self._mapping, self._owners)
                if row.get("IsConverted"):
                    self._converted.add(record.id)
                for key in {match_key(row, email_field), match_key(row, None)}:
                    if key in wanted:
                        found.setdefault(key, []).append(record)
        return [list(found.get(k, [])) if k is not None else [] for k in keys]

    @staticmethod
    def _where_chunks(
        keys: list[tuple[str, tuple[str | None, ...]]], email_field: str | None
    ) -> list[str]:
        """OR-ed conditions, split so no query grows past :data:`MAX_WHERE_CHARS`."""
        out: list[str] = []
        emails: list[str] = []
        names: list[str] = []

        def flush() -> None:
            parts = []
            if emails:
                parts.append(f"{email_field} IN ({', '.join(emails)})")
            parts.extend(names)
            if parts:
                out.append(" OR ".join(parts))
            emails.clear()
            names.clear()

        size = 0
        for key in keys:
            clause = key_clause(key, email_field)
            literal = clause.split(" = ", 1)[1] if key[0] == "email" else clause
            if size + len(literal) + 4 > MAX_WHERE_CHARS:
                flush()
                size = 0
            (emails if key[0] == "email" else names).append(literal)
            size += len(literal) + 4
        flush()
        return out

    def check(self) -> list[Check]:
        from nexasync.connectors._sf_check import run_checks

        return run_checks(self._api, self.config, self._mapping, self._clock)

    # -- reading -----------------------------------------------------------------------------
    def pull(self, cursor: Cursor | None, known: KnownIds) -> Pull:
        saved = (cursor or {}).get("users")
        if isinstance(saved, dict) and isinstance(saved.get("users"), dict):
            try:
                read_at = parse_sf_datetime(saved.get("read_at"))
            except ValueError:
                read_at = None
            if read_at is not None and self._users_read_at is None:
                self._owners.adopt(saved["users"], (self._clock() - read_at).total_seconds())
                if self._owners.export() is not None:
                    self._users_read_at = read_at
        return _WithUsers(self._puller.pull(cursor, known), self._users_saved)

    def _users_saved(self) -> dict[str, Any] | None:
        users = self._owners.export()
        if users is None or self._users_read_at is None or len(users) > MAX_SAVED_USERS:
            return None
        return {"read_at": self._users_read_at.isoformat(), "users": users}

    # -- owners ------------------------------------------------------------------------------
    def _load_users(self) -> dict[str, str | None]:
        read_at = self._clock()
        rows = self._api.query_records("SELECT Id, Email FROM User WHERE IsActive = true")
        users = {str(row["Id"]): row.get("Email") for row in rows}
        self._users_read_at = read_at
        return users
