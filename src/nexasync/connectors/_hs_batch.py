"""What the batch writes share: inputs and their results, batches in which no key
repeats, and sending with a split when HubSpot refuses a whole batch.

HubSpot refuses a whole batch for one bad input (an invalid email, an unknown
option), naming the property but not the input, unless every input carries an
``objectWriteTraceId``: then it writes the valid ones and answers each refused one
by itself (207). Without that, a refused batch is halved until each bad input
stands alone, reported with HubSpot's reason, and the rest are written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from nexasync.connectors._hs_api import BATCH_SIZE, HubSpotApi, HubSpotApiError
from nexasync.connectors._hs_search import iso_ms, row_modified
from nexasync.connectors.base import Record, WriteResult

NOT_FOUND = frozenset({"OBJECT_NOT_FOUND"})


@dataclass
class Input:
    """One record of a batch: where its result goes, and the batch input sent."""

    index: int
    body: dict[str, Any]
    #: Values that must not appear twice in one batch.
    keys: frozenset[str] = frozenset()

    @property
    def id(self) -> str | None:
        return self.body.get("id")

    @property
    def trace(self) -> str | None:
        return self.body.get("objectWriteTraceId")


@dataclass
class Run:
    results: dict[int, WriteResult] = field(default_factory=dict)
    #: Once HubSpot is out of reach or out of calls, nothing more is sent this call.
    stop: HubSpotApiError | None = None


def unique_batches(inputs: Iterable[Input], size: int = BATCH_SIZE) -> list[list[Input]]:
    """Batches of up to ``size`` in which no key repeats, first fit, order kept."""
    batches: list[list[Input]] = []
    taken: list[set[str]] = []
    for item in inputs:
        for batch, keys in zip(batches, taken):
            if len(batch) < size and not (item.keys & keys):
                batch.append(item)
                keys |= item.keys
                break
        else:
            batches.append([item])
            taken.append(set(item.keys))
    return batches


def traced(body: dict[str, Any], index: int, on: bool) -> dict[str, Any]:
    """``body`` with a trace id (its index in the caller's list) when ``on``."""
    if on:
        body["objectWriteTraceId"] = str(index)
    return body


def record_version(row: dict[str, Any]) -> Record | None:
    """A written contact's version, for the engine to recognise it when read back."""
    stamp = row_modified(row)
    if stamp is None:
        return None
    return Record(str(row["id"]), version=iso_ms(stamp), modified_at=stamp)


def read_rows(api: HubSpotApi, ids: list[str], properties: list[str]) -> dict[str, dict[str, Any]]:
    """Contacts by id (a merged-away id answers with its survivor)."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), BATCH_SIZE):
        _, answer = api.batch("read", {
            "inputs": [{"id": id} for id in ids[start:start + BATCH_SIZE]],
            "properties": properties,
        })
        for row in answer.get("results") or []:
            out[str(row["id"])] = row
    return out


def split_send(
    chunk: list[Input], send: Callable[[list[Input]], dict[int, WriteResult]],
    run: Run, *, delete: bool = False,
) -> None:
    """``send`` the chunk; a chunk refused as a whole is halved until each refused
    record stands alone with HubSpot's reason."""
    if run.stop is not None:
        fail_all(chunk, run, None)
        return
    try:
        run.results.update(send(chunk))
        return
    except HubSpotApiError as exc:
        if exc.retryable:
            run.stop = exc
            fail_all(chunk, run, None)
            return
        if len(chunk) > 1:
            mid = len(chunk) // 2
            split_send(chunk[:mid], send, run, delete=delete)
            split_send(chunk[mid:], send, run, delete=delete)
            return
        only = chunk[0]
        gone = exc.status == 404 or exc.category in NOT_FOUND
        if gone and delete:
            run.results[only.index] = WriteResult(ok=True, id=only.id, gone=True)
        else:
            run.results[only.index] = WriteResult(
                ok=False, id=only.id, error=exc.detail, gone=gone)


def fail_all(chunk: list[Input], run: Run, exc: HubSpotApiError | None) -> None:
    """Each record not answered yet fails with ``exc`` (or what stopped the run)."""
    reason = exc or run.stop
    for p in chunk:
        run.results.setdefault(p.index, WriteResult.failed(
            p.id, str(reason) if reason else "not sent",
            retryable=reason is None or reason.retryable))
