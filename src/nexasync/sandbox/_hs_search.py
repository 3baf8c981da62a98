"""``POST /crm/v3/objects/contacts/search``: filter groups, one sort, offset paging and
the documented limits (5 groups, 6 filters a group, 18 in all, 200 a page, 10,000
results a query).

Each page is computed against the data as it is at that request, so rows shift
between pages when data changes, as they do on HubSpot. Ties on the sort property
come in id order. A query's matches are kept until the next write (``Store.memo``),
so paging through it filters and sorts the contacts once, not once a page.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from nexasync.sandbox._hs_errors import bad_request
from nexasync.sandbox._hs_schema import ALWAYS, Prop, parse_instant, ts
from nexasync.sandbox._hs_store import Contact, Store

MAX_GROUPS, MAX_GROUP_FILTERS, MAX_FILTERS = 5, 6, 18
DEFAULT_LIMIT, MAX_LIMIT, RESULT_CAP = 10, 200, 10_000
#: What a free-text ``query`` looks in.
QUERY_PROPERTIES = ("firstname", "lastname", "email", "phone", "company", "hs_additional_emails")
_VALUELESS = ("HAS_PROPERTY", "NOT_HAS_PROPERTY")
_OPERATORS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
              "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN")
_TOKEN = re.compile(r"[^\W_]+(?:[.'-][^\W_]+)*", re.UNICODE)


class Row:
    """One contact as filters see it: presence, stored text, and comparison keys (made
    once per search, straight from the timestamps rather than their text)."""

    __slots__ = ("contact", "_keys")

    def __init__(self, contact: Contact) -> None:
        self.contact = contact
        self._keys: dict[str, Any] = {}

    def has(self, name: str) -> bool:
        return name in self.contact.props or name in ALWAYS

    def text(self, name: str) -> str:
        c = self.contact
        if name in c.props:
            return c.props[name]
        if name == "hs_object_id":
            return c.id
        if name in ("createdate", "lastmodifieddate"):
            return ts(c.created if name == "createdate" else c.updated)
        return ""

    def key(self, prop: Prop) -> Any:
        name = prop.name
        if name not in self._keys:
            c = self.contact
            if name == "createdate":
                self._keys[name] = c.created.timestamp()
            elif name == "lastmodifieddate":
                self._keys[name] = c.updated.timestamp()
            else:
                self._keys[name] = _key(prop, self.text(name))
        return self._keys[name]


Test = Callable[[Row], bool]


def _prop(store: Store, name: Any) -> Prop:
    prop = store.props.get(name) if isinstance(name, str) else None
    if prop is None:
        raise bad_request(f'Property "{name}" does not exist',
                          context={"propertyName": [str(name)]})
    return prop


def _key(prop: Prop, value: Any) -> Any:
    """A value made comparable the way HubSpot compares this property's type."""
    if prop.type == "number":
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            return None
    if prop.type in ("datetime", "date"):
        instant = parse_instant(value)
        return None if instant is None else instant.timestamp()
    text = str(value)
    # Enumerations compare case-sensitively; free text does not.
    return text if prop.type == "enumeration" else text.casefold()


def _filter_key(prop: Prop, value: Any) -> Any:
    key = _key(prop, value) if value is not None else None
    if key is None:
        raise bad_request(f"{value!r} is not a valid value for {prop.name}",
                          context={"propertyName": [prop.name]})
    return key


def _tokens(text: str) -> list[str]:
    return [t.casefold() for t in _TOKEN.findall(text)] + [text.casefold()]


def _compile(store: Store, spec: Any) -> Test:
    if not isinstance(spec, dict):
        raise bad_request("Invalid input JSON: a filter must be an object")
    prop, op = _prop(store, spec.get("propertyName")), spec.get("operator")
    if op not in _OPERATORS:
        raise bad_request(f"Invalid filter operator: {op}")
    name = prop.name
    if op in _VALUELESS:
        return lambda r: r.has(name) == (op == "HAS_PROPERTY")
    if op in ("IN", "NOT_IN"):
        raw = spec.get("values")
        if not isinstance(raw, list) or not raw:
            raise bad_request(f"{op} needs a non-empty values list")
        if prop.type == "string":
            # HubSpot lowercases the stored text only: values must be given in lowercase.
            wanted = {str(x) for x in raw}
            hit: Test = lambda r: r.text(name).lower() in wanted  # noqa: E731
        else:
            keys = {_filter_key(prop, x) for x in raw}
            hit = lambda r: r.key(prop) in keys  # noqa: E731
        if op == "IN":
            return lambda r: r.has(name) and hit(r)
        return lambda r: not r.has(name) or not hit(r)
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(spec.get("value", "")).casefold()
        if not pattern:
            raise bad_request(f"{op} needs a value")

        def contains(r: Row) -> bool:
            return any(fnmatch.fnmatchcase(t, pattern) for t in _tokens(r.text(name)))

        if op == "CONTAINS_TOKEN":
            return lambda r: r.has(name) and contains(r)
        return lambda r: not r.has(name) or not contains(r)
    low = _filter_key(prop, spec.get("value"))
    if op == "BETWEEN":
        high = _filter_key(prop, spec.get("highValue"))
        return lambda r: r.has(name) and r.key(prop) is not None and low <= r.key(prop) <= high
    compare: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda k: k == low, "NEQ": lambda k: k != low, "LT": lambda k: k < low,
        "LTE": lambda k: k <= low, "GT": lambda k: k > low, "GTE": lambda k: k >= low,
    }
    test = compare[op]
    if op == "NEQ":
        return lambda r: not r.has(name) or test(r.key(prop))
    return lambda r: r.has(name) and r.key(prop) is not None and test(r.key(prop))


def _groups(store: Store, body: dict[str, Any]) -> tuple[list[list[Test]], tuple[Prop, ...]]:
    """The compiled groups, and the definitions of the properties they filter on."""
    groups = list(body.get("filterGroups") or [])
    if body.get("filters"):
        groups.append({"filters": body["filters"]})
    if len(groups) > MAX_GROUPS:
        raise bad_request(f"Too many filter groups: {len(groups)} (maximum {MAX_GROUPS})")
    compiled, count, used = [], 0, []
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise bad_request("Invalid input JSON: filterGroups[].filters must be a list")
        if len(filters) > MAX_GROUP_FILTERS:
            raise bad_request(f"Too many filters in a group: {len(filters)} "
                              f"(maximum {MAX_GROUP_FILTERS})")
        count += len(filters)
        compiled.append([_compile(store, f) for f in filters])
        used += [store.props[f["propertyName"]] for f in filters]
    if count > MAX_FILTERS:
        raise bad_request(f"Too many filters: {count} (maximum {MAX_FILTERS})")
    return compiled, tuple(used)


def _sort(store: Store, body: dict[str, Any]) -> tuple[Prop, bool] | None:
    sorts = body.get("sorts") or []
    if not isinstance(sorts, list):
        raise bad_request("Invalid input JSON: sorts must be a list")
    if not sorts:
        return None
    first = sorts[0]  # HubSpot applies one sort.
    if isinstance(first, str):
        return _prop(store, first.lstrip("-")), first.startswith("-")
    if not isinstance(first, dict):
        raise bad_request("Invalid input JSON: a sort must be an object")
    direction = str(first.get("direction", "ASCENDING")).upper()
    if direction not in ("ASCENDING", "DESCENDING"):
        raise bad_request(f"Invalid sort direction: {direction}")
    return _prop(store, first.get("propertyName")), direction == "DESCENDING"


def _int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(str(value))
    except ValueError:
        raise bad_request(f"Invalid input JSON: {name} must be a number") from None


def _matches(store: Store, groups: list[list[Test]], sort: tuple[Prop, bool] | None,
             query: str) -> list[Contact]:
    """Every contact the query finds, in the order its pages list them."""
    def matches(row: Row) -> bool:
        if groups and not any(all(t(row) for t in g) for g in groups):
            return False
        return not query or any(query in row.text(p).casefold() for p in QUERY_PROPERTIES)

    # What the search index holds, which may lag the writes.
    rows = [r for r in map(Row, store.search_rows()) if matches(r)]  # in id order
    if sort is not None:
        prop, descending = sort
        have = [r for r in rows if r.has(prop.name) and r.key(prop) is not None]
        lack = [r for r in rows if not (r.has(prop.name) and r.key(prop) is not None)]
        have.sort(key=lambda r: r.key(prop), reverse=descending)
        rows = have + lack  # unset values come last either way
    return [r.contact for r in rows]


def search(store: Store, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: the body must be an object")
    groups, used = _groups(store, body)
    limit = _int(body.get("limit"), "limit", DEFAULT_LIMIT)
    if not 0 < limit <= MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}")
    after = _int(body.get("after"), "after", 0)
    if after < 0 or after >= RESULT_CAP:
        raise bad_request(f"The search endpoints return at most {RESULT_CAP} results for a "
                          f"query; after={after} pages beyond them. Narrow the query.")
    sort = _sort(store, body)
    wanted = body.get("properties")
    if isinstance(wanted, str):
        wanted = [p.strip() for p in wanted.split(",") if p.strip()]
    query = str(body.get("query") or "").strip().casefold()
    # The definitions are part of the key: a property's type decides how it compares.
    filters = json.dumps([body.get("filterGroups"), body.get("filters")], sort_keys=True,
                         default=repr)
    rows = store.memo(("search", filters, used, sort, query),
                      lambda: _matches(store, groups, sort, query))
    end = min(after + limit, len(rows), RESULT_CAP)
    out: dict[str, Any] = {
        "total": len(rows),
        "results": [store.render(c, wanted if wanted else None) for c in rows[after:end]],
    }
    if end < len(rows):
        out["paging"] = {"next": {"after": str(end)}}
    return out
