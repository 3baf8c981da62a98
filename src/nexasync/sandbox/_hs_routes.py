"""Routing of the CRM v3 paths the emulator serves, and the single-object, list, merge,
owners and properties resources (batch and search have their own modules)."""

from __future__ import annotations

import json
from bisect import bisect_left
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from nexasync.sandbox import _hs_batch as batch
from nexasync.sandbox._hs_errors import (
    HsError,
    bad_request,
    envelope,
    not_found,
    object_not_found,
    respond,
    unparsable,
)
from nexasync.sandbox._hs_search import search
from nexasync.sandbox._hs_store import Contact, Store

OBJECTS = "/crm/v3/objects/"
CONTACT_TYPES = ("contacts", "contact", "0-1")
_BATCH = ("create", "update", "archive", "read")
_ROOT_KINDS = {"GET": "list", "POST": "create"}
_RECORD_KINDS = {"GET": "read", "PATCH": "update", "DELETE": "archive"}


def _parts(path: str, prefix: str) -> list[str] | None:
    if not path.startswith(prefix):
        return None
    return [p for p in path[len(prefix):].split("/") if p]


def kind_of(method: str, path: str, archived: bool) -> str:
    """The request's kind for counters and fault matching."""
    if path.rstrip("/") == "/oauth/v2/private-apps/get/access-token-info":
        return "token_info"
    if _parts(path, "/crm/v3/owners") is not None:
        return "owners"
    if _parts(path, "/crm/v3/properties/") is not None:
        return "properties"
    parts = _parts(path, OBJECTS)
    if not parts or parts[0] not in CONTACT_TYPES:
        return "other"
    rest = parts[1:]
    if not rest:
        kind = _ROOT_KINDS.get(method, "other")
        return "list_archived" if kind == "list" and archived else kind
    if rest[0] == "batch" and len(rest) == 2 and rest[1] in _BATCH and method == "POST":
        return f"batch_{rest[1]}"
    if rest in (["search"], ["merge"]) and method == "POST":
        return rest[0]
    if len(rest) == 1:
        return _RECORD_KINDS.get(method, "other")
    return "other"


def flag(request: Request, name: str) -> bool:
    return (request.args.get(name) or "").strip().lower() == "true"


def _names(request: Request, name: str) -> list[str] | None:
    values = [p.strip() for v in request.args.getlist(name) for p in v.split(",") if p.strip()]
    return values or None


def _json(request: Request) -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError as e:
        raise unparsable(str(e)) from None


def _properties_of(body: Any) -> dict[str, Any]:
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise bad_request("Invalid input JSON: properties is required and must be an object",
                          context={"properties": ["required"]})
    return props


def _method_not_allowed(request: Request) -> HsError:
    return HsError(405, envelope(f"HTTP {request.method} is not allowed on this resource"))


def route(store: Store, request: Request, kind: str) -> Response:
    handlers = {
        "list": _list, "list_archived": _list, "create": _create, "read": _record,
        "update": _record, "archive": _record, "merge": _merge, "owners": _owners,
        "properties": _properties,
    }
    if kind == "search":
        return respond(search(store, _json(request)))
    if kind.startswith("batch_"):
        body = _json(request)
        if kind == "batch_read":
            return batch.read(store, body, flag(request, "archived"))
        return {"batch_create": batch.create, "batch_update": batch.update,
                "batch_archive": batch.archive}[kind](store, body)
    handler = handlers.get(kind)
    if handler is None:
        if (_parts(request.path, OBJECTS) or [""])[0] in CONTACT_TYPES:
            raise _method_not_allowed(request)
        raise not_found()
    return handler(store, request)


def _list(store: Store, request: Request) -> Response:
    limit = _int(request.args.get("limit"), "limit", 10)
    if not 0 < limit <= 100:
        raise bad_request("limit must be between 1 and 100")
    after = _int(request.args.get("after"), "after", 0)
    archived = flag(request, "archived")
    # Kept until the next write, so a page is a bisection, not a scan of every contact.
    ids, every = store.memo(("list", archived), lambda: _by_id(store.rows(archived)))
    start = bisect_left(ids, after)
    rows = every[start:start + limit + 1]
    wanted = _names(request, "properties")
    body: dict[str, Any] = {"results": [store.render(c, wanted) for c in rows[:limit]]}
    if len(rows) > limit:
        query = {k: v for k, v in request.args.items(multi=True) if k != "after"}
        link = f"{request.base_url}?{urlencode([*query.items(), ('after', rows[limit].id)])}"
        body["paging"] = {"next": {"after": rows[limit].id, "link": link}}
    return respond(body)


def _by_id(rows: list[Contact]) -> tuple[list[int], list[Contact]]:
    """Rows (already in id order) with their ids as numbers, to bisect on."""
    return [int(c.id) for c in rows], rows


def _int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{name} must be a number, got {value!r}") from None


def _create(store: Store, request: Request) -> Response:
    contact = store.create(_properties_of(_json(request)))
    location = f"{request.host_url.rstrip('/')}{OBJECTS}contacts/{contact.id}"
    return respond(store.render(contact, full=True), 201, {"Location": location})


def _lookup(store: Store, request: Request, key: str, archived: bool = False) -> Contact:
    id_property = request.args.get("idProperty")
    if id_property == "email":
        contact = store.by_email(key, archived)
    elif id_property not in (None, "", "hs_object_id"):
        raise bad_request(f"Unable to look up contacts by non-unique property {id_property}")
    elif not key.isdigit():
        raise object_not_found(key)
    else:
        contact = store.find(key, archived)
    if contact is None:
        raise not_found()
    return contact


def _record(store: Store, request: Request) -> Response:
    key = (_parts(request.path, OBJECTS) or ["", ""])[1]
    if request.method == "DELETE":
        try:
            store.archive(_lookup(store, request, key))
        except HsError as e:
            if e.status != 404:
                raise
        return Response(status=204)  # archiving is idempotent
    if request.method == "GET":
        contact = _lookup(store, request, key, flag(request, "archived"))
        return respond(store.render(contact, _names(request, "properties")))
    contact = _lookup(store, request, key)
    store.update(contact, _properties_of(_json(request)))
    return respond(store.render(contact, full=True))


def _merge(store: Store, request: Request) -> Response:
    body = _json(request)
    if not isinstance(body, dict) or not body.get("primaryObjectId") \
            or not body.get("objectIdToMerge"):
        raise bad_request("Invalid input JSON: primaryObjectId and objectIdToMerge are required")
    primary = store.merge(str(body["primaryObjectId"]), str(body["objectIdToMerge"]))
    return respond(store.render(primary, full=True))


def _owners(store: Store, request: Request) -> Response:
    if request.method != "GET":
        raise _method_not_allowed(request)
    parts = _parts(request.path, "/crm/v3/owners") or []
    archived = flag(request, "archived")
    if parts:
        owner = store.owners.get(parts[0])
        if owner is None or owner["archived"] != archived:
            raise not_found()
        return respond(owner)
    limit = _int(request.args.get("limit"), "limit", 100)
    if not 0 < limit <= 500:
        raise bad_request("limit must be between 1 and 500")
    after = _int(request.args.get("after"), "after", 0)
    email = (request.args.get("email") or "").strip().casefold()
    rows = sorted((o for o in store.owners.values()
                   if o["archived"] == archived and int(o["id"]) >= after
                   and (not email or o["email"].casefold() == email)), key=lambda o: int(o["id"]))
    body: dict[str, Any] = {"results": rows[:limit]}
    if len(rows) > limit:
        query = {k: v for k, v in request.args.items(multi=True) if k != "after"}
        link = f"{request.base_url}?{urlencode([*query.items(), ('after', rows[limit]['id'])])}"
        body["paging"] = {"next": {"after": rows[limit]["id"], "link": link}}
    return respond(body)


def _properties(store: Store, request: Request) -> Response:
    if request.method != "GET":
        raise _method_not_allowed(request)
    parts = _parts(request.path, "/crm/v3/properties/") or []
    if not parts or parts[0] not in CONTACT_TYPES or len(parts) > 2:
        raise not_found()
    created = store.created
    if len(parts) == 2:
        prop = store.props.get(parts[1])
        if prop is None:
            raise HsError(404, envelope(f"Unable to find property {parts[1]} on contacts",
                                        "OBJECT_NOT_FOUND"))
        return respond(prop.describe(created))
    if flag(request, "archived"):
        return respond({"results": []})
    return respond({"results": [p.describe(created) for p in store.props.values()]})
