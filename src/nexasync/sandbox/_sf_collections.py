"""sObject Collections: ``/composite/sobjects`` create, update, delete and upsert.

Up to 200 records a call, results in request order. The whole call fails (400)
when the body does not deserialize; otherwise each record succeeds or fails on
its own, unless ``allOrNone`` is true, when one failure rolls every record back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from nexasync.sandbox._http import json_response
from nexasync.sandbox._sf_store import Store
from nexasync.sandbox._sf_validate import RecordError, RequestError, SfError, read_body

MAX_RECORDS = 200
TOO_MANY = RequestError(400, "EXCEEDED_ID_LIMIT",
                        "record limit reached. cannot submit more than 200 records into this call")
ROLLED_BACK = SfError("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all "
                      "records were valid and the request was using AllOrNone header")

Item = tuple[dict[str, Any], dict[str, Any]]  # (field values, keys such as Id)


def _body(request: Request) -> tuple[list[Any], bool]:
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        raise RequestError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise RequestError(400, "JSON_PARSER_ERROR", "Expected an object with a records array")
    if len(body["records"]) > MAX_RECORDS:
        raise TOO_MANY
    return body["records"], bool(body.get("allOrNone", False))


def _items(store: Store, records: list[Any], keys: tuple[str, ...] = ()) -> list[Item]:
    """Deserialize every record before any is saved, as a bad body fails the whole call."""
    items = []
    for record in records:
        attributes = record.get("attributes") if isinstance(record, dict) else None
        kind = attributes.get("type") if isinstance(attributes, dict) else None
        if not kind:
            raise RequestError(400, "INVALID_TYPE", "Must send a concrete entity type.")
        if kind != "Lead":
            raise RequestError(400, "INVALID_TYPE", f"sObject type '{kind}' is not supported.")
        items.append(read_body(store.fields["Lead"], record, "Lead", keys))
    return items


def _failure(error: RecordError, id_: str | None) -> dict[str, Any]:
    errors = []
    for e in error.errors:
        if e.code == "NOT_FOUND":  # a single-record call's 404 reads so in a collection
            e = SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["Id"])
        errors.append(e.collection())
    result: dict[str, Any] = {"id": id_} if id_ else {}
    return {**result, "success": False, "errors": errors}


def _apply(store: Store, keys: list[str | None], all_or_none: bool,
           op: Callable[[int], dict[str, Any]]) -> Response:
    if all_or_none:
        store.begin()
    results: list[dict[str, Any]] = []
    try:
        for i, key in enumerate(keys):
            try:
                results.append(op(i))
            except RecordError as error:
                results.append(_failure(error, key))
    except BaseException:
        store.rollback()  # no half-applied call, whatever failed
        raise
    if not all_or_none or all(r["success"] for r in results):
        store.commit()
        return json_response(results)
    store.rollback()
    results = [r if not r["success"] else
               {**({"id": keys[i]} if keys[i] else {}), "success": False,
                "errors": [ROLLED_BACK.collection()]}
               for i, r in enumerate(results)]
    return json_response(results)


def create(store: Store, request: Request) -> Response:
    records, all_or_none = _body(request)
    items = _items(store, records)

    def op(i: int) -> dict[str, Any]:
        return {"id": store.create(items[i][0]), "success": True, "errors": []}

    return _apply(store, [None] * len(items), all_or_none, op)


def update(store: Store, request: Request) -> Response:
    records, all_or_none = _body(request)
    items = _items(store, records, keys=("Id",))
    ids = [str(keys["Id"]) if keys.get("Id") else None for _, keys in items]

    def op(i: int) -> dict[str, Any]:
        if ids[i] is None:
            raise RecordError.one("MISSING_ARGUMENT", "Id not specified in an update call")
        return {"id": store.update(str(ids[i]), items[i][0]), "success": True, "errors": []}

    return _apply(store, ids, all_or_none, op)


def delete(store: Store, request: Request) -> Response:
    ids = [i for i in (request.args.get("ids") or "").split(",") if i.strip()]
    if not ids:
        raise RequestError(400, "MISSING_ARGUMENT", "ids must be specified")
    if len(ids) > MAX_RECORDS:
        raise TOO_MANY
    all_or_none = (request.args.get("allOrNone") or "false").lower() == "true"

    def op(i: int) -> dict[str, Any]:
        record = store.lookup("Lead", ids[i])
        store.delete(record["Id"])
        return {"id": record["Id"], "success": True, "errors": []}

    return _apply(store, list(ids), all_or_none, op)


def upsert(store: Store, request: Request, field_name: str) -> Response:
    records, all_or_none = _body(request)
    try:
        f = store.external_field(field_name)
    except RequestError:
        raise RequestError(400, "INVALID_FIELD", f"Field name provided, {field_name} is not an "
                           "External ID or indexed field for Lead") from None
    by_id = f.name == "Id"
    items = _items(store, records, keys=("Id",) if by_id else ())
    keys = [found.get("Id") if by_id else values.get(f.name) for values, found in items]
    folded = [k.casefold() if isinstance(k, str) else k for k in keys]

    def op(i: int) -> dict[str, Any]:
        if keys[i] is not None and folded.count(folded[i]) > 1:
            raise RecordError.one("DUPLICATE_EXTERNAL_ID",
                                  f"Duplicate external id specified: {keys[i]}", [f.name])
        id_, created = store.upsert(f.name, keys[i], items[i][0])
        return {"id": id_, "success": True, "errors": [], "created": created}

    return _apply(store, [None] * len(items), all_or_none, op)
