"""The contact batch endpoints, with HubSpot's batch semantics:

- at most 100 inputs; more is a 400;
- create and update check every input first and, when one is invalid, fail the whole
  batch with that input's error (400, or 409 for an email another contact has) and
  write nothing, unless every input carries a unique ``objectWriteTraceId``: then the
  valid inputs are written and each failure is listed (207) with its trace id;
- update answers 207 for ids that do not exist and still writes the others;
- read answers 207 listing the ids it could not find; archive ignores them (204);
- results do not come back in input order (HubSpot does not keep it): match them by
  id, email or ``objectWriteTraceId``.
"""

from __future__ import annotations

import zlib
from typing import Any

from werkzeug.wrappers import Response

from nexasync.sandbox._hs_errors import (
    NOT_FOUND_MESSAGE,
    HsError,
    bad_request,
    conflict,
    respond,
)
from nexasync.sandbox._hs_schema import ts
from nexasync.sandbox._hs_store import Contact, Store

MAX_INPUTS = 100


def _inputs(body: Any) -> list[dict[str, Any]]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise bad_request("Invalid input JSON: inputs must be a list of objects")
    if len(inputs) > MAX_INPUTS:
        raise bad_request(f"Batch input size {len(inputs)} exceeds the maximum of {MAX_INPUTS}",
                          context={"maximum": [str(MAX_INPUTS)]})
    return inputs


def _traces(inputs: list[dict[str, Any]]) -> list[str] | None:
    """The inputs' trace ids when multi-status answers are on (all present and unique)."""
    traces = [str(i.get("objectWriteTraceId") or "") for i in inputs]
    if inputs and all(traces) and len(set(traces)) == len(traces):
        return traces
    return None


def _unique_ids(inputs: list[dict[str, Any]]) -> list[str]:
    ids = [str(i.get("id", "")).strip() for i in inputs]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise bad_request(f"Duplicate IDs found in batch input: [{', '.join(repeated)}]. "
                          "IDs must be unique", context={"ids": repeated})
    return ids


def _order(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(results, key=lambda r: zlib.crc32(r["id"].encode()))


def _answer(store: Store, started: Any, results: list[dict[str, Any]],
            errors: list[dict[str, Any]], ok: int) -> Response:
    body: dict[str, Any] = {"status": "COMPLETE", "results": _order(results)}
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    body.update(startedAt=ts(started), completedAt=ts(store.now()))
    return respond(body, 207 if errors else ok)


def _not_found(ids: list[str], traces: list[str]) -> dict[str, Any]:
    context = {"ids": ids, **({"objectWriteTraceId": traces} if traces else {})}
    return {"status": "error", "category": "OBJECT_NOT_FOUND", "message": NOT_FOUND_MESSAGE,
            "context": context}


def _resolve(store: Store, item: dict[str, Any], id_property: str | None,
             archived: bool = False) -> Contact | None:
    key = str(item.get("id", "")).strip()
    prop = item.get("idProperty") or id_property
    if prop in (None, "", "hs_object_id"):
        return store.find(key, archived)
    if prop == "email":
        return store.by_email(key, archived)
    raise bad_request(f"Unable to look up contacts by non-unique property {prop}",
                      context={"idProperty": [str(prop)]})


def create(store: Store, body: Any) -> Response:
    inputs, started = _inputs(body), store.now()
    traces = _traces(inputs)
    if traces is not None:
        results, errors = [], []
        for item, trace in zip(inputs, traces):
            try:
                contact = store.create(item.get("properties") or {})
            except HsError as e:
                errors.append(e.as_batch_error({"objectWriteTraceId": [trace]}))
            else:
                results.append(store.render(contact, full=True, trace=trace))
        return _answer(store, started, results, errors, 201)
    checked, seen = [], {}
    for item in inputs:
        clean = store.clean(item.get("properties") or {}, None)
        email = (clean.get("email") or "").casefold()
        if email:
            holder = store.email_owner(email)
            if holder is not None:
                raise conflict(holder)
            if email in seen:
                raise bad_request(f"Duplicate emails found in batch input: [{email}]. "
                                  "Emails must be unique", context={"emails": [email]})
            seen[email] = True
        checked.append(clean)
    results = [store.render(store.insert(clean), full=True) for clean in checked]
    return _answer(store, started, results, [], 201)


def update(store: Store, body: Any) -> Response:
    inputs, started = _inputs(body), store.now()
    traces = _traces(inputs)
    ids = _unique_ids(inputs)
    id_property = body.get("idProperty") if isinstance(body, dict) else None
    planned: list[tuple[Contact, dict[str, str], str | None]] = []
    missing: list[tuple[str, str | None]] = []
    errors: list[dict[str, Any]] = []
    for n, item in enumerate(inputs):
        trace = traces[n] if traces else None
        contact = _resolve(store, item, id_property)
        if contact is None:
            missing.append((ids[n], trace))
            continue
        try:
            clean = store.clean(item.get("properties") or {}, contact)
            store.check_email(clean, contact.id)
        except HsError as e:
            if trace is None:
                raise
            errors.append(e.as_batch_error({"objectWriteTraceId": [trace]}))
            continue
        planned.append((contact, clean, trace))
    results = []
    for contact, clean, trace in planned:
        store.apply(contact, clean)
        results.append(store.render(contact, full=True, trace=trace))
    if missing and traces:
        errors += [_not_found([i], [t]) for i, t in missing if t]
    elif missing:
        errors.append(_not_found([i for i, _ in missing], []))
    return _answer(store, started, results, errors, 200)


def archive(store: Store, body: Any) -> Response:
    inputs = _inputs(body)
    _unique_ids(inputs)
    for item in inputs:
        contact = store.find(str(item.get("id", "")))
        if contact is not None:
            store.archive(contact)
    return Response(status=204)


def read(store: Store, body: Any, archived: bool) -> Response:
    inputs, started = _inputs(body), store.now()
    wanted = body.get("properties") or None
    id_property = body.get("idProperty")
    results: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for item in inputs:
        contact = _resolve(store, {"id": item.get("id")}, id_property, archived)
        if contact is None:
            missing.append(str(item.get("id", "")))
        else:
            results[contact.id] = store.render(contact, wanted)
    errors = [_not_found(missing, [])] if missing else []
    return _answer(store, started, list(results.values()), errors, 200)
