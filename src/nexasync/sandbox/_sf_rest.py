"""Routing of ``/services/data/vXX.X/...`` and the single-record sObject resources."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from nexasync.sandbox import _sf_collections as collections
from nexasync.sandbox import _sf_replication as replication
from nexasync.sandbox._http import json_response
from nexasync.sandbox._sf_query import project
from nexasync.sandbox._sf_schema import describe_object
from nexasync.sandbox._sf_store import PREFIX, Store
from nexasync.sandbox._sf_validate import RecordError, RequestError, read_body, resolve

if TYPE_CHECKING:
    from nexasync.sandbox.salesforce import SalesforceEmulator

NOT_FOUND = RequestError(404, "NOT_FOUND", "The requested resource does not exist")


def _allow(request: Request, *methods: str) -> None:
    if request.method not in methods:
        raise RequestError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not "
                           f"allowed. Allowed are {','.join(methods)}")


def _json(request: Request) -> Any:
    try:
        return json.loads(request.get_data() or b"{}")
    except ValueError:
        raise RequestError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None


def route(emu: SalesforceEmulator, request: Request, version: str, parts: list[str]) -> Response:
    store = emu.store
    head, rest = (parts[0] if parts else ""), parts[1:]
    if not parts:
        _allow(request, "GET")
        base = f"/services/data/v{version}"
        return json_response({k: f"{base}/{k}" for k in ("sobjects", "query", "queryAll",
                                                          "limits", "composite")})
    if head in ("query", "queryAll") and len(rest) <= 1:
        _allow(request, "GET")
        if rest:
            return emu.queries.more(rest[0], version)
        return emu.queries.query(request, version, head)
    if head == "limits" and not rest:
        _allow(request, "GET")
        remaining = max(0, emu.daily_api_limit - emu.api_requests_used)
        return json_response({
            "DailyApiRequests": {"Max": emu.daily_api_limit, "Remaining": remaining},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
        })
    if head == "composite" and rest[:1] == ["sobjects"]:
        return _collections(store, request, rest[1:])
    if head == "sobjects":
        return _sobjects(emu, request, version, rest)
    raise NOT_FOUND


def _collections(store: Store, request: Request, rest: list[str]) -> Response:
    if not rest:
        _allow(request, "POST", "PATCH", "DELETE")
        handler = {"POST": collections.create, "PATCH": collections.update,
                   "DELETE": collections.delete}[request.method]
        return handler(store, request)
    if len(rest) == 2 and rest[0] == "Lead":
        _allow(request, "PATCH")
        return collections.upsert(store, request, rest[1])
    raise NOT_FOUND


def _object(store: Store, name: str) -> str:
    obj = next((o for o in store.fields if o.lower() == name.lower()), None)
    if obj is None:
        raise NOT_FOUND
    return obj


def _sobjects(emu: SalesforceEmulator, request: Request, version: str,
              rest: list[str]) -> Response:
    store = emu.store
    base = f"/services/data/v{version}"
    if not rest:
        _allow(request, "GET")
        described = [describe_object(o, PREFIX[o], {}, base) for o in store.fields]
        for d in described:
            d.pop("fields")
        return json_response({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": described})
    obj = _object(store, rest[0])
    fields = store.fields[obj]
    tail = rest[1:]
    if not tail:
        _allow(request, *(("GET", "POST") if obj == "Lead" else ("GET",)))
        if request.method == "POST":
            values, _ = read_body(fields, _json(request), obj)
            return json_response({"id": store.create(values), "success": True, "errors": []}, 201)
        described = describe_object(obj, PREFIX[obj], {}, base)
        described.pop("fields")
        return json_response({"objectDescribe": described, "recentItems": []})
    if tail == ["describe"]:
        _allow(request, "GET")
        access = emu.lead_access if obj == "Lead" else None
        return json_response(describe_object(obj, PREFIX[obj], fields, base, access))
    if tail[0] in ("updated", "deleted") and len(tail) == 1 and obj == "Lead":
        _allow(request, "GET")
        if tail[0] == "updated":
            return replication.updated(store, request)
        return replication.deleted(store, request, emu.earliest_deleted())
    if len(tail) == 1:
        return _record(store, request, obj, tail[0], version)
    if len(tail) == 2 and obj == "Lead":
        return _by_external_id(store, request, tail[0], tail[1], version)
    raise NOT_FOUND


def _selected(request: Request, store: Store, obj: str) -> list[Any]:
    fields = store.fields[obj]
    wanted = [n.strip() for n in (request.args.get("fields") or "").split(",") if n.strip()]
    if not wanted:
        return list(fields.values())
    chosen = []
    for name in wanted:
        f = resolve(fields, name)
        if f is None:
            raise RequestError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of "
                               f"type {obj}")
        chosen.append(f)
    return chosen


def _record(store: Store, request: Request, obj: str, id_: str, version: str) -> Response:
    _allow(request, *(("GET", "PATCH", "DELETE") if obj == "Lead" else ("GET",)))
    try:
        record = store.lookup(obj, id_)
    except RecordError as e:
        if e.errors[0].code == "MALFORMED_ID":
            raise RequestError(404, "NOT_FOUND", "Provided external ID field does not exist or "
                               f"is not accessible: {id_}") from None
        raise
    if request.method == "GET":
        return json_response(project(obj, record, _selected(request, store, obj), version))
    if request.method == "PATCH":
        values, _ = read_body(store.fields[obj], _json(request), obj)
        store.update(record["Id"], values)
    else:
        store.delete(record["Id"])
    return Response(status=204)


def _by_external_id(store: Store, request: Request, name: str, key: str,
                    version: str) -> Response:
    _allow(request, "GET", "PATCH", "DELETE")
    f = store.external_field(name)
    if request.method == "PATCH":
        values, _ = read_body(store.fields["Lead"], _json(request), "Lead")
        values.pop(f.name, None)
        id_, created = store.upsert(f.name, key, values)
        return json_response({"id": id_, "success": True, "errors": [], "created": created},
                             201 if created else 200)
    matches = [key] if f.name == "Id" else store.find(f.name, key)
    if len(matches) > 1:
        urls = [f"/services/data/v{version}/sobjects/Lead/{i}" for i in matches]
        return json_response(urls, 300)
    if not matches:
        raise NOT_FOUND
    return _record(store, request, "Lead", matches[0], version)

