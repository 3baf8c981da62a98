"""Finding contacts that may already be the record about to be created: by email
(an ``IN`` filter, up to 100 values a query) or, without one, by name (one filter
group per name, five groups a query). Used to match before creating, and to claim
what a create whose answer was lost did make, so it is not made twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from nexasync.connectors._hs_api import SEARCH_PAGE_SIZE, HubSpotApi
from nexasync.connectors._hs_search import to_ms
from nexasync.lead import norm_email

#: Values in one IN filter.
IN_VALUES = 100
#: HubSpot takes at most five filter groups in one search.
FILTER_GROUPS = 5

Key = tuple[str, tuple[str | None, ...]]


class HasProperties(Protocol):
    @property
    def body(self) -> dict[str, Any]: ...


def contact_key(props: Mapping[str, Any], email_property: str | None = "email") -> Key:
    """What two contacts share when they may be one person: the normalised email, or
    (without one) the name, case-insensitively as HubSpot's search compares."""
    email = norm_email(props.get(email_property)) if email_property else None
    if email:
        return ("email", (email,))
    first = str(props.get("firstname") or "").strip().lower() or None
    last = str(props.get("lastname") or "").strip().lower() or None
    return ("name", (first, last))


def _name_group(key: Key, created_since: datetime | None) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    for prop, value in zip(("firstname", "lastname"), key[1]):
        if value is None:
            filters.append({"propertyName": prop, "operator": "NOT_HAS_PROPERTY"})
        else:
            filters.append({"propertyName": prop, "operator": "EQ", "value": value})
    if created_since is not None:
        filters.append({"propertyName": "createdate", "operator": "GTE",
                        "value": str(to_ms(created_since))})
    return {"filters": filters}


class ContactFinder:
    def __init__(
        self, api: HubSpotApi, properties: list[str], *, email_property: str | None,
        overlap_seconds: int,
    ) -> None:
        self._api = api
        #: The property the lead's email is kept in (None: matched by name only).
        self.email_property = email_property
        self._properties = [*properties, *(["createdate"] if "createdate" not in properties
                                           else [])]
        self._overlap = timedelta(seconds=overlap_seconds)

    def find(
        self, keys: Sequence[Key], *, created_since: datetime | None = None
    ) -> dict[Key, list[dict[str, Any]]]:
        """For each key, the contacts that have it, oldest first."""
        found: dict[Key, list[dict[str, Any]]] = {}
        wanted = set(keys)
        emails = sorted({k[1][0] for k in wanted if k[0] == "email" and k[1][0]})
        names = sorted((k for k in wanted if k[0] == "name" and any(k[1])), key=repr)
        groups: list[list[dict[str, Any]]] = []
        for start in range(0, len(emails), IN_VALUES):
            group: dict[str, Any] = {"filters": [
                {"propertyName": self.email_property, "operator": "IN",
                 "values": emails[start:start + IN_VALUES]}]}
            if created_since is not None:
                group["filters"].append({"propertyName": "createdate", "operator": "GTE",
                                         "value": str(to_ms(created_since))})
            groups.append([group])
        for start in range(0, len(names), FILTER_GROUPS):
            groups.append([_name_group(k, created_since)
                           for k in names[start:start + FILTER_GROUPS]])
        for filter_groups in groups:
            for row in self._rows(filter_groups):
                key = contact_key(row.get("properties") or {}, self.email_property)
                if key in wanted:
                    found.setdefault(key, []).append(row)
        for rows in found.values():
            rows.sort(key=lambda r: (str((r.get("properties") or {}).get("createdate") or ""),
                                     int(r["id"]) if str(r["id"]).isdigit() else 0))
        return found

    def claim(self, pending: Sequence[HasProperties], since: datetime) -> list[tuple[Any, str]]:
        """After a create whose answer was lost (sent at ``since``): for each input, a
        contact made since then that it made; each contact is claimed once."""
        keys = [contact_key(p.body["properties"], self.email_property) for p in pending]
        found = self.find(keys, created_since=since - self._overlap)
        claimed: set[str] = set()
        out: list[tuple[Any, str]] = []
        for item, key in zip(pending, keys):
            for row in found.get(key, []):
                id = str(row["id"])
                if id not in claimed:
                    claimed.add(id)
                    out.append((item, id))
                    break
        return out

    def _rows(self, filter_groups: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "filterGroups": filter_groups, "properties": self._properties,
                "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
                "limit": SEARCH_PAGE_SIZE,
            }
            if after is not None:
                body["after"] = after
            page = self._api.search(body)
            yield from page.get("results") or []
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after or not page.get("results"):
                return
