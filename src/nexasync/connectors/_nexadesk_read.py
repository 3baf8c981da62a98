"""Reading lists of leads: following the pagination cursor, and targeted searches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nexasync.connectors._nexadesk_http import Http, NexaDeskError, error_text

PAGE_SIZE = 100
#: A search is for one person; more pages than this means the term is too vague to rely on.
MAX_SEARCH_PAGES = 20


@dataclass(frozen=True)
class Page:
    leads: list[dict[str, Any]]
    #: Size of the whole (filtered) set when this page was answered.
    total: int


class Inconclusive(NexaDeskError):
    """A search with more results than it is sensible to read."""


def pages(http: Http, kind: str, params: dict[str, Any]) -> Iterator[Page]:
    """Pages of a list request, lazily: a page is requested only when iterated to."""
    query = {**params, "limit": PAGE_SIZE}
    token: str | None = None
    while True:
        if token is not None:
            query["cursor"] = token
        response = http.send(kind, "GET", params=query)
        if response.status_code != 200:
            raise NexaDeskError(
                f"NexaDesk {kind}: HTTP {response.status_code} ({error_text(response)})",
                status=response.status_code,
                retryable=response.status_code not in (400, 401, 403),
            )
        try:
            body = response.json()
            leads = [lead for lead in body["data"] if isinstance(lead, dict) and lead.get("id")]
            pagination = body["pagination"]
            total = int(pagination["total_count"])
        except (ValueError, KeyError, TypeError) as exc:
            raise NexaDeskError(
                f"NexaDesk {kind}: unexpected answer ({type(exc).__name__})", retryable=True
            ) from None
        yield Page(leads, total)
        following = pagination.get("next_cursor")
        if not pagination.get("has_more") or not following or following == token:
            return
        token = str(following)


def search(http: Http, term: str) -> Iterator[dict[str, Any]]:
    """Leads whose name, email or company contain ``term``, newest first."""
    params = {"search": term, "sort": "created_at:desc"}
    for number, page in enumerate(pages(http, "search", params), start=1):
        yield from page.leads
        if number >= MAX_SEARCH_PAGES and page.total > number * PAGE_SIZE:
            raise Inconclusive(f"NexaDesk search matched {page.total} leads", retryable=False)
