"""One NexaDesk write at a time: create (never twice), update, delete.

A POST that timed out or answered 5xx may have created the lead. It is never
simply sent again: the lead is first looked for (by email, else by name, with every
field sent matching), and only re-POSTed when it is not there.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx
import structlog
from tenacity import Retrying, retry_if_exception, stop_after_attempt

from nexasync.connectors._nexadesk_convert import (
    RecordError,
    create_body,
    enforce,
    same_lead,
    update_body,
)
from nexasync.connectors._nexadesk_http import (
    AmbiguousWrite,
    Http,
    NexaDeskError,
    backoff_wait,
    error_text,
)
from nexasync.connectors._nexadesk_read import search
from nexasync.connectors.base import CreateItem, Record, UpdateItem, WriteResult

log = structlog.get_logger("nexasync.nexadesk")

Reader = Callable[[Mapping[str, Any]], Record]


def _failure(kind: str, response: httpx.Response) -> NexaDeskError:
    status = response.status_code
    return NexaDeskError(
        f"NexaDesk {kind}: HTTP {status} ({error_text(response)})",
        status=status,
        # The request itself is refused as it is; sending it again will not help.
        retryable=status not in (400, 404, 409, 422),
    )


def _data(kind: str, response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()["data"]
    except (ValueError, KeyError, TypeError):
        data = None
    if not isinstance(data, dict) or not data.get("id"):
        raise NexaDeskError(f"NexaDesk {kind}: answer without a lead", retryable=True)
    return data


class Writer:
    def __init__(
        self,
        http: Http,
        read: Reader,
        truncate: Collection[str],
        *,
        attempts: int,
        backoff: float,
    ) -> None:
        self.http = http
        self.read = read
        self.truncate = truncate
        self.attempts = attempts
        self.backoff = backoff

    # -- create --------------------------------------------------------------------------
    def create(self, item: CreateItem) -> WriteResult:
        label = f"lead {item.source_id}"
        try:
            fields = enforce(item.fields, self.truncate, creating=True)
        except RecordError as exc:
            return WriteResult.failed(None, f"{label}: {exc}")
        body = create_body(fields)
        try:
            raw = self._post(body)
        except NexaDeskError as exc:
            return WriteResult.failed(None, f"{label}: {exc}", retryable=exc.retryable)
        rep = fields.get("assigned_rep_id")
        problem = None
        if rep is not None and raw.get("assigned_rep_id") != rep:
            # POST has no assigned_rep_id: the owner is a PATCH of its own.
            try:
                raw = self._patch(str(raw["id"]), {"assigned_rep_id": rep})
            except NexaDeskError as exc:
                problem = f"{label}: created, but assigned_rep_id not set: {exc}"
                log.warning("nexadesk rep not assigned", lead_id=raw["id"], reason=str(exc))
        return WriteResult(ok=True, id=str(raw["id"]), record=self.read(raw), error=problem)

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body``, looking for the lead before any second POST. An answer from
        the application (a 5xx) means it is done with the request, so a search then
        is conclusive; after a timeout the request may still be running, so the lead
        is not POSTed again in this cycle (the next one matches it first)."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=backoff_wait(self.backoff, 30.0),
            retry=retry_if_exception(lambda e: isinstance(e, AmbiguousWrite) and not e.in_flight),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        found = self._find(body)
                        if found is not None:
                            return found
                    response = self.http.send("create", "POST", json=body, idempotent=False)
                    if response.status_code not in (200, 201):
                        raise _failure("create", response)
                    return _data("create", response)
        except AmbiguousWrite as exc:
            # The last attempt may have worked too.
            found = self._find(body)
            if found is not None:
                return found
            if exc.in_flight:
                raise NexaDeskError(
                    f"{exc}; the lead may still be created, so it is not sent again now",
                    retryable=True,
                ) from None
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _find(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The lead an earlier, unanswered POST of ``body`` created, if any."""
        term = body.get("visitor_email") or body["visitor_name"]
        for raw in search(self.http, str(term)):
            if same_lead(self.read(raw), body):
                log.info("nexadesk create had succeeded; using it", lead_id=raw.get("id"))
                return raw
        return None

    # -- update --------------------------------------------------------------------------
    def update(self, item: UpdateItem) -> WriteResult:
        label = f"lead {item.id}"
        # source is set once, at creation: leave it out and let the record tell the truth.
        wanted = {k: v for k, v in item.fields.items() if k != "source"}
        try:
            body = update_body(enforce(wanted, self.truncate, creating=False))
        except RecordError as exc:
            return WriteResult.failed(item.id, f"{label}: {exc}")
        if not body:
            return WriteResult(ok=True, id=item.id)
        try:
            raw = self._patch(item.id, body)
        except _Gone:
            return WriteResult(ok=False, id=item.id, gone=True, error=f"{label} not found")
        except NexaDeskError as exc:
            return WriteResult.failed(item.id, f"{label}: {exc}", retryable=exc.retryable)
        return WriteResult(ok=True, id=item.id, record=self.read(raw))

    def _patch(self, lead_id: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.send("update", "PATCH", params={"id": lead_id}, json=body)
        if response.status_code == 404:
            raise _Gone(f"lead {lead_id} not found", status=404)
        if response.status_code != 200:
            raise _failure("update", response)
        return _data("update", response)

    # -- delete --------------------------------------------------------------------------
    def delete(self, lead_id: str) -> WriteResult:
        try:
            response = self.http.send("delete", "DELETE", params={"id": lead_id})
        except NexaDeskError as exc:
            return WriteResult.failed(lead_id, f"lead {lead_id}: {exc}", retryable=exc.retryable)
        if response.status_code == 404:
            return WriteResult(ok=True, id=lead_id, gone=True)
        if response.status_code != 200:
            exc = _failure("delete", response)
            return WriteResult.failed(lead_id, f"lead {lead_id}: {exc}", retryable=exc.retryable)
        return WriteResult(ok=True, id=lead_id)


class _Gone(NexaDeskError):
    """A 404 on a lead: it does not exist (any more)."""
