"""Creates through the batch API, a result per record, never a duplicate.

A create whose email already exists is answered 409 "Contact already exists.
Existing ID: N" (for the whole batch, or per input in a 207): the record is linked
to N (ok, with N's record as it is). Emails repeated in one call go in separate
batches, so they do not fail each other; the later one then links to the first.
A create whose answer was lost (5xx, timeout) may have happened: before it is sent
again, the contacts it would have made are looked for and claimed
(:mod:`._hs_claims`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nexasync.connectors._hs_api import HubSpotApi, HubSpotApiError, describe
from nexasync.connectors._hs_batch import (
    Input,
    Run,
    fail_all,
    read_rows,
    record_version,
    traced,
    unique_batches,
)
from nexasync.connectors._hs_claims import ContactFinder
from nexasync.connectors._hs_mapping import ContactMapping, MappingError, Owners
from nexasync.connectors.base import CreateItem, Record, WriteResult
from nexasync.lead import norm_email

_EXISTING = re.compile(r"Existing ID:\s*(\d+)")


@dataclass
class _Sending:
    """A create chunk on its way: what is still to create, and since when an answer
    went missing (so what it made can be claimed)."""

    pending: list[Input]
    lost_at: datetime | None = None


def existing_id(exc: HubSpotApiError) -> str | None:
    if exc.status != 409:
        return None
    found = _EXISTING.search(str(exc.body.get("message") or ""))
    return found.group(1) if found else None


def _same_values(candidates: list[Input], props: dict[str, Any]) -> Input | None:
    """The input whose sent values the created contact holds (email first: unique)."""
    email = norm_email(props.get("email"))
    for p in candidates:
        sent = p.body["properties"]
        if email and norm_email(sent.get("email")) == email:
            return p
    for p in candidates:
        sent = p.body["properties"]
        if not email and not sent.get("email") and all(
                str(props.get(k) or "") == str(v) for k, v in sent.items()):
            return p
    return None


class ContactCreator:
    def __init__(
        self,
        api: HubSpotApi,
        mapping: ContactMapping,
        owners: Owners,
        *,
        claims: ContactFinder,
        clock: Callable[[], datetime],
        read_record: Callable[[dict[str, Any]], Record],
        multi_status: bool = True,
    ) -> None:
        self._api = api
        self._mapping = mapping
        self._owners = owners
        self._claims = claims
        self._clock = clock
        self._read_record = read_record
        self._multi_status = multi_status

    def create(self, items: Sequence[CreateItem]) -> list[WriteResult]:
        run = Run()
        inputs: list[Input] = []
        for i, item in enumerate(items):
            try:
                props = self._mapping.write(item.fields, self._owners, create=True)
            except MappingError as exc:
                run.results[i] = WriteResult.failed(None, str(exc))
                continue
            email = props.get("email")
            body = traced({"properties": props}, i, self._multi_status)
            inputs.append(Input(i, body, frozenset({email.lower()} if email else ())))
        linked: dict[int, str] = {}
        rows: dict[str, dict[str, Any]] = {}
        for batch in unique_batches(inputs):
            self._create_chunk(batch, run, linked, rows)
        self._link(linked, rows, run)
        return [run.results.get(i) or WriteResult.failed(None, "not sent")
                for i in range(len(items))]

    def _create_chunk(
        self, chunk: list[Input], run: Run, linked: dict[int, str],
        rows: dict[str, dict[str, Any]],
    ) -> None:
        state = _Sending(list(chunk))
        while state.pending:
            if run.stop is not None:
                fail_all(state.pending, run, None)
                return
            try:
                answer = self._send_create(state, linked)
            except HubSpotApiError as exc:
                if exc.retryable:
                    run.stop = exc
                    if state.lost_at is not None:
                        with contextlib.suppress(HubSpotApiError):
                            self._claim(state, linked)
                    continue
                existing = existing_id(exc)
                if existing and len(state.pending) == 1:
                    linked[state.pending[0].index] = existing
                    return
                if existing:
                    match = self._conflicting(state.pending, existing, rows)
                    if match is not None:
                        linked[match.index] = existing
                        state.pending.remove(match)
                        continue
                if len(state.pending) == 1:
                    run.results[state.pending[0].index] = WriteResult.failed(None, exc.detail)
                    return
                mid = len(state.pending) // 2
                self._create_chunk(state.pending[:mid], run, linked, rows)
                self._create_chunk(state.pending[mid:], run, linked, rows)
                return
            self._created(state.pending, answer, run, linked)
            return

    def _send_create(self, state: _Sending, linked: dict[int, str]) -> dict[str, Any]:
        """One create call, retried when transient; after an answer was lost, the
        contacts it may have made are claimed first and left out of the retry."""
        for attempt in self._api.retrying():
            with attempt:
                if state.lost_at is not None:
                    self._claim(state, linked)
                    if not state.pending:
                        return {}
                sent_at = self._clock()
                try:
                    _, answer = self._api.batch(
                        "create", {"inputs": [p.body for p in state.pending]}, retry=False)
                except HubSpotApiError as exc:
                    if exc.lost and state.lost_at is None:
                        state.lost_at = sent_at
                    raise
                return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _claim(self, state: _Sending, linked: dict[int, str]) -> None:
        assert state.lost_at is not None
        for item, id in self._claims.claim(state.pending, state.lost_at):
            linked[item.index] = id
        state.pending = [p for p in state.pending if p.index not in linked]

    def _conflicting(
        self, pending: list[Input], existing: str, rows: dict[str, dict[str, Any]]
    ) -> Input | None:
        """The input whose email the existing contact ``existing`` has."""
        row = rows.get(existing) or self._read([existing]).get(existing)
        if row is None:
            return None
        rows[existing] = row
        email = norm_email((row.get("properties") or {}).get("email"))
        for p in pending:
            if email and norm_email(p.body["properties"].get("email")) == email:
                return p
        return None

    def _created(
        self, pending: list[Input], answer: dict[str, Any], run: Run, linked: dict[int, str]
    ) -> None:
        """Results to inputs: by trace id, else by the values sent (HubSpot does not
        answer in input order). A refused input is failed; one whose email exists is
        linked to that contact."""
        by_trace = {p.trace: p for p in pending if p.trace is not None}
        unmatched = list(pending)
        for row in answer.get("results") or []:
            target = by_trace.get(str(row.get("objectWriteTraceId")))
            if target is None:
                target = _same_values(unmatched, row.get("properties") or {})
            if target is None or target not in unmatched:
                continue
            unmatched.remove(target)
            run.results[target.index] = WriteResult(ok=True, id=str(row["id"]),
                                                    record=record_version(row))
        for error in answer.get("errors") or []:
            for trace in (error.get("context") or {}).get("objectWriteTraceId") or []:
                target = by_trace.get(str(trace))
                if target is None or target not in unmatched:
                    continue
                unmatched.remove(target)
                existing = _EXISTING.search(str(error.get("message") or ""))
                if error.get("category") == "CONFLICT" and existing:
                    linked[target.index] = existing.group(1)
                else:
                    run.results[target.index] = WriteResult.failed(None, describe(error))
        for p in unmatched:
            run.results[p.index] = WriteResult.failed(
                None, "HubSpot answered the create without this record", retryable=True)

    def _link(self, linked: dict[int, str], rows: dict[str, dict[str, Any]], run: Run) -> None:
        """Results for creates that found their contact already there: that contact's
        id and record as it is."""
        missing = sorted({id for id in linked.values() if id not in rows})
        if missing:
            # Linked all the same when the read fails; the next pull reads the record.
            with contextlib.suppress(HubSpotApiError):
                rows.update(self._read(missing))
        for index, id in linked.items():
            row = rows.get(id)
            record = self._read_record(row) if row is not None else None
            run.results[index] = WriteResult(ok=True, id=id, record=record)

    def _read(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return read_rows(self._api, ids, self._mapping.properties)
