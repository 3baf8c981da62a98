"""The NexaDesk connector: the Leads API over httpx.

NexaDesk has no batch endpoints, no deleted-records feed and a pagination cursor
that is an offset; the strategy for pulling changes and detecting deletions on top
of that lives in :mod:`._nexadesk_scan`, writes in :mod:`._nexadesk_write`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

from nexasync.config import NexaDeskConfig
from nexasync.connectors._nexadesk_convert import project, to_record
from nexasync.connectors._nexadesk_http import Http, NexaDeskError
from nexasync.connectors._nexadesk_read import Inconclusive, search
from nexasync.connectors._nexadesk_scan import Scan
from nexasync.connectors._nexadesk_write import Writer
from nexasync.connectors.base import (
    Check,
    Connector,
    CreateItem,
    Cursor,
    KnownIds,
    Pull,
    Record,
    UpdateItem,
    WriteResult,
)
from nexasync.lead import Lead, norm_email, norm_str

__all__ = ["NexaDeskConnector", "NexaDeskError"]

T = TypeVar("T")
R = TypeVar("R")


class NexaDeskConnector(Connector):
    system: ClassVar[str] = "nexadesk"
    #: NexaDesk has no batch endpoint: a "batch" here is how many writes go out
    #: together, ``concurrency`` at a time, between two saves of their outcomes. One
    #: per batch would leave the concurrency unused and pay a store commit per lead.
    write_batch_size: ClassVar[int] = 100

    def __init__(self, config: NexaDeskConfig, *, backoff: float = 0.5) -> None:
        """``backoff``: first delay in seconds of the exponential backoff on 5xx and
        network errors (a 429 waits for its Retry-After instead)."""
        self.config = config
        self._http = Http(config, backoff=backoff)
        self._writer = Writer(
            self._http,
            self._read,
            frozenset(config.truncate),
            attempts=config.max_retries + 1,
            backoff=backoff,
        )
        #: Rep id -> rep email, learnt from the leads read (NexaDesk has no rep API).
        self.rep_emails: dict[str, str] = {}

    @property
    def stats(self) -> Counter[str]:
        """Requests sent, by kind: list, search, create, update, delete."""
        return self._http.stats

    def close(self) -> None:
        self._http.close()

    def check(self) -> list[Check]:
        from nexasync.connectors._nd_check import run_checks

        return run_checks(self._http, self.config)

    # -- reading -----------------------------------------------------------------------
    def pull(self, cursor: Cursor | None, known: KnownIds) -> Pull:
        return Scan(self._http, cursor, known, self.config.overlap_seconds, self._read).start()

    def match(self, leads: Sequence[Lead]) -> list[list[Record]]:
        return self._parallel(self._match_one, leads)

    def _match_one(self, lead: Lead) -> list[Record]:
        email = norm_email(lead.get("visitor_email"))
        name = norm_str(lead.get("visitor_name"))
        if email is None and name is None:
            return []
        found: list[Record] = []
        try:
            for raw in search(self._http, email or name or ""):
                if email is not None:
                    same = norm_email(raw.get("visitor_email")) == email
                else:
                    same = _casefold(raw.get("visitor_name")) == _casefold(name)
                if same:
                    found.append(self._read(raw))
        except Inconclusive:
            pass  # a name shared by thousands: what was found is all that can be said
        return found

    def _read(self, raw: Mapping[str, Any]) -> Record:
        rep_id, rep_email = raw.get("assigned_rep_id"), norm_email(raw.get("rep_email"))
        if rep_id and rep_email:
            self.rep_emails[str(rep_id)] = rep_email
        return to_record(raw)

    # -- writing -----------------------------------------------------------------------
    def create(self, items: Sequence[CreateItem]) -> list[WriteResult]:
        return self._parallel(self._writer.create, items)

    def update(self, items: Sequence[UpdateItem]) -> list[WriteResult]:
        return self._parallel(self._writer.update, items)

    def delete(self, ids: Sequence[str]) -> list[WriteResult]:
        return self._parallel(self._writer.delete, ids)

    def project(self, lead: Lead) -> Lead:
        return project(lead, self.config.truncate)

    def _parallel(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``fn`` over ``items`` with at most ``concurrency`` requests in flight, in order."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        workers = min(self.config.concurrency, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nexadesk") as pool:
            return list(pool.map(fn, items))


def _casefold(value: Any) -> str:
    return (norm_str(value) or "").casefold()
