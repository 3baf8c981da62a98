"""Updates and archives through the batch APIs, a result per record.

Two updates of one id, or two giving one email, go in different batches (HubSpot
refuses a batch that repeats an id). Moving ``lifecyclestage`` backwards is kept
from happening by HubSpot, silently, unless the stage is cleared first: such
records get a clearing update, in its own call, before the real one.
"""

from __future__ import annotations

from collections.abc import Sequence

from nexasync.connectors._hs_api import HubSpotApi, HubSpotApiError, describe
from nexasync.connectors._hs_batch import (
    NOT_FOUND,
    Input,
    Run,
    fail_all,
    read_rows,
    record_version,
    split_send,
    traced,
    unique_batches,
)
from nexasync.connectors._hs_mapping import LIFECYCLE_ORDER, ContactMapping, MappingError, Owners
from nexasync.connectors.base import UpdateItem, WriteResult


class ContactWriter:
    def __init__(
        self, api: HubSpotApi, mapping: ContactMapping, owners: Owners, *,
        multi_status: bool = True,
    ) -> None:
        self._api = api
        self._mapping = mapping
        self._owners = owners
        self._multi_status = multi_status
        self._lifecycle_order: tuple[str, ...] | None = None

    # -- update --------------------------------------------------------------------------
    def update(self, items: Sequence[UpdateItem]) -> list[WriteResult]:
        run = Run()
        inputs: list[Input] = []
        for i, item in enumerate(items):
            try:
                props = self._mapping.write(item.fields, self._owners, create=False)
            except MappingError as exc:
                run.results[i] = WriteResult.failed(item.id, str(exc))
                continue
            if not props:
                # Only fields HubSpot does not take (a rep with no owner): nothing to send,
                # and nothing wrong with the record either.
                run.results[i] = WriteResult(ok=True, id=item.id)
                continue
            keys = {f"id:{item.id}"}
            if props.get("email"):
                keys.add(f"email:{props['email'].lower()}")
            inputs.append(Input(i, traced({"id": item.id, "properties": props}, i,
                                        self._multi_status),
                                frozenset(keys)))
        inputs = self._clear_lifecycle_backwards(inputs, run)
        for batch in unique_batches(inputs):
            split_send(batch, self._send_update, run)
        return [run.results.get(i) or WriteResult.failed(items[i].id, "not sent")
                for i in range(len(items))]

    def _send_update(self, chunk: list[Input]) -> dict[int, WriteResult]:
        _, answer = self._api.batch("update", {"inputs": [p.body for p in chunk]})
        out: dict[int, WriteResult] = {}
        by_id = {p.id: p for p in chunk}
        for row in answer.get("results") or []:
            if (target := by_id.get(str(row.get("id")))) is not None:
                out[target.index] = WriteResult(ok=True, id=target.id, record=record_version(row))
        by_trace = {p.trace: p for p in chunk if p.trace is not None}
        for error in answer.get("errors") or []:
            gone = error.get("category") in NOT_FOUND
            context = error.get("context") or {}
            targets = [by_trace.get(str(t)) for t in context.get("objectWriteTraceId") or []]
            if not any(targets):
                targets = [by_id.get(str(i)) for i in context.get("ids") or []]
            for target in targets:
                if target is not None and target.index not in out:
                    out[target.index] = WriteResult(
                        ok=False, id=target.id, gone=gone, error=describe(error))
        for p in chunk:
            out.setdefault(p.index, WriteResult.failed(
                p.id, "HubSpot answered the update without this record", retryable=True))
        return out

    def _clear_lifecycle_backwards(self, inputs: list[Input], run: Run) -> list[Input]:
        """Clear the stage of the records whose update moves it backwards; the ones
        that cannot be cleared fail and are not updated."""
        wanted = [p for p in inputs if p.body["properties"].get("lifecyclestage")]
        if self._mapping.stage_property != "lifecyclestage" or not wanted:
            return inputs
        order = self._order()
        current: dict[str, str | None] = {}
        ids = [p.id for p in wanted if p.id]
        try:
            for row in read_rows(self._api, ids, ["lifecyclestage"]).values():
                current[str(row["id"])] = (row.get("properties") or {}).get("lifecyclestage")
        except HubSpotApiError as exc:
            if exc.retryable:
                run.stop = exc
            fail_all(wanted, run, exc)
            return [p for p in inputs if p not in wanted]
        backwards = [
            Input(p.index, traced({"id": p.id, "properties": {"lifecyclestage": ""}},
                                   p.index, self._multi_status), p.keys)
            for p in wanted
            if self._mapping.moves_backwards(
                current.get(p.id or ""), p.body["properties"]["lifecyclestage"], order)
        ]
        cleared = Run(stop=run.stop)
        for batch in unique_batches(backwards):
            split_send(batch, self._send_update, cleared)
        run.stop = cleared.stop
        failed = {i for i, r in cleared.results.items() if not r.ok}
        for index in failed:
            run.results[index] = cleared.results[index]
        return [p for p in inputs if p.index not in failed]

    def _order(self) -> tuple[str, ...]:
        """The account's lifecycle stages in order, from the property's options."""
        if self._lifecycle_order is None:
            try:
                prop = self._api.get_property("lifecyclestage")
                options = sorted(prop.get("options") or [],
                                 key=lambda o: o.get("displayOrder", 0))
                order = tuple(str(o["value"]) for o in options if o.get("value"))
            except HubSpotApiError:
                order = ()
            self._lifecycle_order = order or LIFECYCLE_ORDER
        return self._lifecycle_order

    # -- archive -------------------------------------------------------------------------
    def delete(self, ids: Sequence[str]) -> list[WriteResult]:
        unique = list(dict.fromkeys(ids))
        run = Run()
        inputs = [Input(i, {"id": id}) for i, id in enumerate(unique)]

        def send(chunk: list[Input]) -> dict[int, WriteResult]:
            self._api.batch("archive", {"inputs": [p.body for p in chunk]})
            return {p.index: WriteResult(ok=True, id=p.id) for p in chunk}

        for batch in unique_batches(inputs):
            split_send(batch, send, run, delete=True)
        by_id = {id: run.results.get(i) or WriteResult.failed(id, "not sent")
                 for i, id in enumerate(unique)}
        return [by_id[id] for id in ids]
