"""Creates, updates and deletes through sObject Collections, a result per record.

Every record is validated before anything is sent, so a bad one is reported
without costing a request or blocking its batch (``allOrNone`` is false). A
create without an external-id field is the one write that is not idempotent:
when its answer is lost, the records are looked for before any is sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from nexasync.connectors._mapping import MappingError, Owners
from nexasync.connectors._sf_api import SalesforceApi, SalesforceApiError, soql_datetime, soql_quote
from nexasync.connectors._sf_mapping import LeadMapping
from nexasync.connectors.base import CreateItem, UpdateItem, WriteResult
from nexasync.lead import norm_email

BATCH = 200
#: The target record is gone (deleted, purged, or never was).
GONE_CODES = frozenset({"ENTITY_IS_DELETED", "NOT_FOUND", "INVALID_CROSS_REFERENCE_KEY"})
CONVERTED_CODES = frozenset({"CANNOT_UPDATE_CONVERTED_LEAD"})
CONVERTED = "converted lead"
_RETRYABLE = frozenset({"REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for error in errors:
        fields = error.get("fields") or []
        where = f" ({', '.join(fields)})" if fields else ""
        parts.append(f"{error.get('statusCode')}: {error.get('message')}{where}")
    return "; ".join(parts) or "failed without a reason"


def entry_result(entry: Mapping[str, Any], id: str | None, *, delete: bool = False) -> WriteResult:
    """The :class:`WriteResult` of one element of a collections answer."""
    if entry.get("success"):
        return WriteResult(ok=True, id=entry.get("id") or id)
    errors = entry.get("errors") or []
    codes = {e.get("statusCode") for e in errors}
    if codes & CONVERTED_CODES:
        return WriteResult(ok=False, id=id, skipped=CONVERTED)
    # An error about a *referenced* record (an owner, say) names its field; one about
    # the target itself names none, or Id.
    about_target = all(not (e.get("fields") or []) or "Id" in e["fields"] for e in errors)
    if codes & GONE_CODES and about_target:
        if delete:
            return WriteResult(ok=True, id=id, gone=True)
        return WriteResult(ok=False, id=id, error=describe_errors(errors), gone=True)
    return WriteResult.failed(id, describe_errors(errors), retryable=bool(codes & _RETRYABLE))


class _StillLost(Exception):
    pass


class LeadWriter:
    def __init__(
        self,
        api: SalesforceApi,
        mapping: LeadMapping,
        owners: Owners,
        *,
        external_id_field: str | None,
        max_retries: int,
        backoff_seconds: float,
        overlap_seconds: int,
        clock: Callable[[], datetime],
        is_converted: Callable[[str], bool],
    ) -> None:
        self._api = api
        self._mapping = mapping
        self._owners = owners
        self._external_id = external_id_field
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._overlap = timedelta(seconds=overlap_seconds)
        self._clock = clock
        self._is_converted = is_converted

    # -- create --------------------------------------------------------------------------
    def create(self, items: Sequence[CreateItem]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(items)
        ready: list[tuple[int, dict[str, Any]]] = []
        for i, item in enumerate(items):
            try:
                values = self._mapping.write(item.fields, self._owners, create=True)
            except MappingError as exc:
                results[i] = WriteResult.failed(None, str(exc))
                continue
            if self._external_id:
                values[self._external_id] = item.source_id
            ready.append((i, {"attributes": {"type": "Lead"}, **values}))
        send = self._upsert if self._external_id else self._insert
        self._batches(ready, results, send, lambda record: None)
        return [r or WriteResult.failed(None, "not sent") for r in results]

    def _upsert(self, chunk: Sequence[tuple[int, dict[str, Any]]]) -> list[WriteResult]:
        body = {"allOrNone": False, "records": [record for _, record in chunk]}
        answer = self._api.collection(
            "PATCH", f"composite/sobjects/Lead/{self._external_id}", body=body, expect=len(chunk)
        )
        return [entry_result(entry, None) for entry in answer]

    def _insert(self, chunk: Sequence[tuple[int, dict[str, Any]]]) -> list[WriteResult]:
        found: dict[int, WriteResult] = {}
        pending = list(range(len(chunk)))
        lost: tuple[SalesforceApiError, datetime] | None = None

        def claim(sent_at: datetime) -> None:
            """Some or all of the lost create's records may exist: claim those."""
            nonlocal pending
            records = [chunk[p][1] for p in pending]
            matches = self._find_created(records, sent_at - self._overlap)
            for p, id in zip(list(pending), matches, strict=True):
                if id is not None:
                    found[p] = WriteResult(ok=True, id=id)
            pending = [p for p in pending if p not in found]

        def attempt() -> None:
            nonlocal pending, lost
            if lost is not None:
                # After the backoff, so a create the server was still busy with has landed.
                claim(lost[1])
                if not pending:
                    return
            sent_at = self._clock()
            records = [chunk[p][1] for p in pending]
            try:
                answer = self._api.collection(
                    "POST", body={"allOrNone": False, "records": records}, retry=False,
                    expect=len(records),
                )
            except SalesforceApiError as exc:
                if not exc.lost:
                    raise
                lost = (exc, sent_at)
                raise _StillLost(str(exc)) from exc
            for p, entry in zip(pending, answer, strict=True):
                found[p] = entry_result(entry, None)
            pending = []

        try:
            for attempt_ in self._retrying(_StillLost):
                with attempt_:
                    attempt()
        except _StillLost as exc:
            if lost is not None:
                claim(lost[1])
            for p in pending:
                found[p] = WriteResult.failed(
                    None, f"the create's answer was lost and the lead was not found: {exc}",
                    retryable=True,
                )
        return [found[p] for p in range(len(chunk))]

    def _find_created(
        self, records: Sequence[Mapping[str, Any]], since: datetime
    ) -> list[str | None]:
        """For each record sent, the id of a lead created since ``since`` that has its
        email (or, without one, its name); each lead is claimed once."""
        email_field = self._mapping.fields.get("visitor_email")
        keys = [match_key(r, email_field) for r in records]
        clauses = [key_clause(key, email_field) for key in dict.fromkeys(keys)]
        candidates: dict[tuple[str, tuple[str | None, ...]], list[str]] = {}
        select = f"SELECT Id, FirstName, LastName{', ' + email_field if email_field else ''}"
        for part in chunks(clauses, 50):
            soql = (f"{select} FROM Lead WHERE CreatedDate >= {soql_datetime(since)} "
                    f"AND ({' OR '.join(part)}) ORDER BY CreatedDate, Id")
            for row in self._api.query_records(soql):
                candidates.setdefault(match_key(row, email_field), []).append(str(row["Id"]))
        claimed: set[str] = set()
        out: list[str | None] = []
        for key in keys:
            ids = [i for i in candidates.get(key, []) if i not in claimed]
            out.append(ids[0] if ids else None)
            if ids:
                claimed.add(ids[0])
        return out

    # -- update / delete -----------------------------------------------------------------
    def update(self, items: Sequence[UpdateItem]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(items)
        ready: list[tuple[int, dict[str, Any]]] = []
        for i, item in enumerate(items):
            if self._is_converted(item.id):
                results[i] = WriteResult(ok=False, id=item.id, skipped=CONVERTED)
                continue
            try:
                values = self._mapping.write(item.fields, self._owners, create=False)
            except MappingError as exc:
                results[i] = WriteResult.failed(item.id, str(exc))
                continue
            if not values:
                # Only fields Salesforce does not take (a rep with no user): nothing to send,
                # and nothing wrong with the record either.
                results[i] = WriteResult(ok=True, id=item.id)
                continue
            ready.append((i, {"attributes": {"type": "Lead"}, "id": item.id, **values}))

        def send(chunk: Sequence[tuple[int, dict[str, Any]]]) -> list[WriteResult]:
            body = {"allOrNone": False, "records": [record for _, record in chunk]}
            answer = self._api.collection("PATCH", body=body, expect=len(chunk))
            return [entry_result(e, r["id"]) for (_, r), e in zip(chunk, answer, strict=True)]

        self._batches(ready, results, send, lambda record: record["id"])
        return [r or WriteResult.failed(items[i].id, "not sent") for i, r in enumerate(results)]

    def delete(self, ids: Sequence[str]) -> list[WriteResult]:
        unique = list(dict.fromkeys(ids))
        by_id: dict[str, WriteResult] = {}

        def send(chunk: Sequence[tuple[int, str]]) -> list[WriteResult]:
            params = {"ids": ",".join(id for _, id in chunk), "allOrNone": "false"}
            answer = self._api.collection("DELETE", params=params, expect=len(chunk))
            return [
                entry_result(e, id, delete=True) for (_, id), e in zip(chunk, answer, strict=True)
            ]

        results: list[WriteResult | None] = [None] * len(unique)
        self._batches(list(enumerate(unique)), results, send, lambda id: id)
        for id, result in zip(unique, results, strict=True):
            by_id[id] = result or WriteResult.failed(id, "not sent")
        return [by_id[id] for id in ids]

    # -- shared ----------------------------------------------------------------------------
    def _batches(
        self,
        ready: Sequence[tuple[int, T]],
        results: list[WriteResult | None],
        send: Callable[[Sequence[tuple[int, T]]], list[WriteResult]],
        id_of: Callable[[T], str | None],
    ) -> None:
        """Send ``ready`` in chunks; a chunk refused as a whole fails each of its records,
        and once Salesforce is out of reach or out of API calls nothing more is sent."""
        stop: SalesforceApiError | None = None
        for chunk in chunks(ready):
            if stop is None:
                try:
                    answers = send(chunk)
                except SalesforceApiError as exc:
                    if exc.retryable:
                        stop = exc
                    else:
                        answers = [WriteResult.failed(id_of(x), str(exc)) for _, x in chunk]
            if stop is not None:
                answers = [WriteResult.failed(id_of(x), str(stop), retryable=True)
                           for _, x in chunk]
            for (i, _), answer in zip(chunk, answers, strict=True):
                results[i] = answer

    def _retrying(self, exc_type: type[BaseException]) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self._max_retries + 1),
            wait=wait_exponential(multiplier=self._backoff, max=30 * self._backoff)
            + wait_random(0, self._backoff),
            retry=retry_if_exception_type(exc_type),
            reraise=True,
        )


def match_key(
    row: Mapping[str, Any], email_field: str | None
) -> tuple[str, tuple[str | None, ...]]:
    """What two Lead rows share when they may be one person: the normalised email,
    or (without one) the name, case-insensitively as SOQL compares."""
    if email_field:
        email = norm_email(row.get(email_field))
        if email:
            return ("email", (email,))
    first = (row.get("FirstName") or "").strip().lower() or None
    last = (row.get("LastName") or "").strip().lower()
    return ("name", (first, last))


def key_clause(key: tuple[str, tuple[str | None, ...]], email_field: str | None) -> str:
    kind, value = key
    if kind == "email":
        return f"{email_field} = {soql_quote(value[0] or '')}"
    first = "null" if value[0] is None else soql_quote(value[0])
    return f"(FirstName = {first} AND LastName = {soql_quote(value[1] or '')})"
