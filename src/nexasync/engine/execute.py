"""Carry out a :class:`Plan`: batched writes to both sides, a result per record, and
the state store updated only for what succeeded.

Order matters for crash safety: a create's intent is stored *before* the call and
cleared only after its link is saved, so a kill between the two is recovered
without a duplicate (see :mod:`.recover`). Links are saved after every batch, so
a kill loses at most the outcomes of the batch in flight and of the one before it
(stored while the next is sent), which the next cycle reads again.

A cycle hands the executor one chunk's plan at a time (:meth:`Executor.submit`):
writes queue per operation and side and go out in full batches, a partial batch
waiting for the next chunk; deletes wait until every chunk is planned, so the
mass-delete guard sees them all together.
"""

from __future__ import annotations

import contextvars
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import structlog

from nexasync.connectors.base import Connector, CreateItem, UpdateItem, WriteResult
from nexasync.engine.merge import Project
from nexasync.engine.plan import SIDES, Item, Plan, Side, Write, other
from nexasync.engine.progress import Progress
from nexasync.engine.reconcile import READ_ONLY_KEY, Policy, guard_deletes
from nexasync.lead import to_json
from nexasync.store.store import Link, LinkConflict, StateStore

DIRECTION = {"crm": "nexadesk->crm", "nexadesk": "crm->nexadesk"}


@dataclass
class Summary:
    """Counts per direction (named by where the writes go) and operation."""

    counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {d: Counter() for d in DIRECTION.values()}
    )
    invalid: int = 0
    warnings: list[str] = field(default_factory=list)

    def add(self, target: Side, what: str, n: int = 1) -> None:
        self.counts[DIRECTION[target]][what] += n

    @property
    def failed(self) -> int:
        return sum(c["failed"] for c in self.counts.values()) + self.invalid

    def as_dict(self) -> dict[str, Any]:
        return {
            "directions": {d: dict(c) for d, c in self.counts.items()},
            "invalid": self.invalid,
            "warnings": list(self.warnings),
        }


def _pending(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for side in SIDES:
        seen = item.seen[side]
        state: dict[str, Any] = {"deleted": True} if seen is None else {"fields": to_json(seen)}
        when = item.modified[side]
        if when is not None:
            state["modified_at"] = when.isoformat()
        out[side] = state
    return out


class Executor:
    def __init__(
        self,
        pair: str,
        run_id: str,
        store: StateStore,
        connectors: Mapping[Side, Connector],
        project: Mapping[Side, Project],
    ) -> None:
        self.pair, self.run_id, self.store = pair, run_id, store
        self.connectors, self.project = connectors, project
        self.log = structlog.get_logger("nexasync.execute")
        self.summary = Summary()
        self._failed: dict[int, str] = {}
        self._remaining: dict[int, int] = {}
        self._events: list[tuple[str | None, str | None, str, str]] = []
        #: The writes of each item that succeeded, for items where another one failed.
        self._done: dict[int, list[Write]] = {}
        #: The writes of each item that failed (or found their target gone).
        self._undone: dict[int, list[Write]] = {}
        #: Writes waiting to be sent, by (op, target), in the order planned.
        self._queue: dict[tuple[str, Side], list[tuple[Item, Write]]] = defaultdict(list)
        self._stop = threading.Event()
        self._progress = Progress()
        #: The deletes the mass-delete guard kept back.
        self.held_deletes: list[tuple[Item, Write]] = []
        #: A stop came before every batch was sent; unsent items keep their old links.
        self.interrupted = False

    # -- the plan ------------------------------------------------------------------
    def run(
        self, plan: Plan, *, stop: threading.Event | None = None, progress: Progress | None = None
    ) -> Summary:
        """Carry out a whole plan (its deletes as its own guard left them)."""
        self.submit(plan, stop=stop, progress=progress)
        self.drain()
        self._send_queued("delete")
        return self.summary

    def submit(
        self, plan: Plan, *, stop: threading.Event | None = None, progress: Progress | None = None
    ) -> None:
        """Take one chunk's plan: creates and updates go out as full batches fill up
        (a partial batch waits for the next chunk, or :meth:`drain`); deletes wait for
        :meth:`finish_deletes`, which guards them all together."""
        if stop is not None:
            self._stop = stop
        if progress is not None:
            self._progress = progress
        self.summary.warnings.extend(plan.warnings)
        for side, record_id, reason in plan.invalid:
            self.summary.invalid += 1
            self.store.record_error(self.pair, side, record_id, "read", reason)
            self.log.warning("invalid record", side=side, record_id=record_id, reason=reason)
        for item in plan.items:
            self._remaining[id(item)] = len(item.writes)
            for side, reason in item.skipped:
                self.summary.add(side, "skipped")
                self._event(item, f"skip {side}", reason)
            for write in item.writes:
                self._queue[(write.op, write.target)].append((item, write))
        # Items with nothing to write still move their bases and versions forward.
        self._finish([i for i in plan.items if not i.writes])
        for op in ("create", "update"):
            self._send_queued(op, full_only=True)

    def drain(self) -> None:
        """Send the creates and updates still waiting for a full batch."""
        for op in ("create", "update"):
            self._send_queued(op)

    def finish_deletes(self, link_count: int, policy: Policy) -> list[str]:
        """Guard every queued delete together, then send those the guard allows;
        returns the guard's warnings."""
        queued = [pw for target in SIDES for pw in self._queue[("delete", target)]]
        plan = Plan(self.pair, items=list({id(i): i for i, _ in queued}.values()))
        held = guard_deletes(plan, link_count, policy)
        self.held_deletes = held
        if held:
            dropped = {id(w) for _, w in held}
            for target in SIDES:
                key = ("delete", target)
                self._queue[key] = [(i, w) for i, w in self._queue[key] if id(w) not in dropped]
            done: list[Item] = []
            for item, write in held:
                self.summary.add(write.target, "skipped")
                self._event(item, f"skip {write.target}", "mass-delete guard")
                self._remaining[id(item)] -= 1
                if self._remaining[id(item)] == 0:
                    done.append(item)
            self._finish(done)
        self.summary.warnings.extend(plan.warnings)
        self._send_queued("delete")
        return plan.warnings

    def _send_queued(self, op: str, *, full_only: bool = False) -> None:
        for target in SIDES:
            self._pipeline(op, target, full_only)

    def _take(self, op: str, target: Side, full_only: bool) -> list[tuple[Item, Write]] | None:
        """The next batch to send, if there is one and no stop was asked for."""
        queue = self._queue[(op, target)]
        size = max(1, self.connectors[target].write_batch_size)
        if not queue or (full_only and len(queue) < size):
            return None
        if self.interrupted or self._stop.is_set():
            # Like a crash between two batches (which recovery handles), minus the
            # crash: everything sent so far has its outcome stored.
            self.interrupted = True
            return None
        batch = queue[:size]
        del queue[:size]
        return batch

    def _pipeline(self, op: str, target: Side, full_only: bool) -> None:
        """Send batches one at a time, but store each one's outcome while the next is on
        the wire: the store's work hides behind the API's latency. A batch is sent only
        once the one before it has answered, so a stop still sends nothing more, and a
        crash can lose the outcome of at most two batches, both under their intents."""
        connector = self.connectors[target]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nexasync-write") as wire:
            previous: tuple[list[tuple[Item, Write]], Future[list[WriteResult]]] | None = None
            while True:
                results = previous[1].result() if previous is not None else None
                batch = self._take(op, target, full_only)
                current = None
                if batch is not None:
                    if op == "create":
                        intents = [(w.source_id or "", to_json(w.fields)) for _, w in batch]
                        self.store.add_intents(self.pair, target, "create", intents)
                    writes = [w for _, w in batch]
                    # The connector logs with this cycle's pair and run id bound.
                    call = contextvars.copy_context().run
                    current = (batch, wire.submit(call, self._call, connector, op, writes))
                if previous is not None and results is not None:
                    self._outcome(previous[0], results, op, target)
                if current is None:
                    return
                previous = current

    def _outcome(
        self, batch: list[tuple[Item, Write]], results: list[WriteResult], op: str, target: Side
    ) -> None:
        done: list[Item] = []
        for (item, write), result in zip(batch, results):
            self._apply(item, write, result)
            self._remaining[id(item)] -= 1
            if self._remaining[id(item)] == 0:
                done.append(item)
        self._finish(done)
        if op == "create":
            sources = [w.source_id or "" for _, w in batch]
            self.store.clear_intents(self.pair, target, "create", sources)
        self._progress.wrote(target, len(batch))

    def _call(self, connector: Connector, op: str, writes: Sequence[Write]) -> list[WriteResult]:
        try:
            if op == "create":
                items = [CreateItem(w.source_id or "", w.fields) for w in writes]
                results = connector.create(items)
            elif op == "update":
                results = connector.update(
                    [UpdateItem(w.target_id or "", w.fields) for w in writes]
                )
            else:
                results = connector.delete([w.target_id or "" for w in writes])
        except Exception as exc:  # a whole batch failed (outage, auth): each record failed
            reason = f"{type(exc).__name__}: {exc}"
            self.log.error("batch failed", system=connector.system, op=op, reason=reason)
            return [WriteResult.failed(w.target_id, reason, retryable=True) for w in writes]
        if len(results) != len(writes):
            raise RuntimeError(
                f"{connector.system}.{op} returned {len(results)} results for {len(writes)}"
            )
        return results

    # -- one record's outcome --------------------------------------------------------
    def _apply(self, item: Item, write: Write, result: WriteResult) -> None:
        target = write.target
        if result.skipped:
            self.summary.add(target, "skipped")
            item.notes.append(f"{write.op} {target} skipped: {result.skipped}")
            if write.op == "update":
                # Keep what the target really holds as its base: the skip is final.
                held = self.project[target](item.seen[target] or {})
                item.base[target] = {**held, READ_ONLY_KEY: result.skipped}
            return
        if result.ok:
            self._done.setdefault(id(item), []).append(write)
            self.summary.add(
                target, {"create": "created", "update": "updated", "delete": "deleted"}[write.op]
            )
            if write.op == "create" and result.id:
                setattr(item, "nexadesk_id" if target == "nexadesk" else "crm_id", result.id)
            if write.op in ("create", "update"):
                if result.record is not None and result.record.fields:
                    item.base[target] = {**item.base[target], **result.record.fields}
                elif write.op == "create":
                    item.base[target] = self.project[target](write.fields)
                if result.record is not None and result.record.version:
                    item.versions[target] = result.record.version
            self._event(item, f"{write.op} {target}", "; ".join(item.notes))
            if result.error:
                # Done, but not all of it (e.g. a NexaDesk create whose rep could not be
                # set): keep what the target really holds as seen, so the next cycle
                # merges again and retries the rest.
                item.seen[target] = dict(result.record.fields) if result.record else {}
                self._fail(item, write, result.error)
            return
        if result.gone:
            # The target vanished under us: that is a deletion on that side, which the
            # next cycle handles by policy; never a crash.
            if write.op == "delete":
                self.summary.add(target, "deleted")
                return
            item.seen[target] = None
            self._undone.setdefault(id(item), []).append(write)
            self._failed[id(item)] = f"{target} record {write.target_id} no longer exists"
            self._event(
                item, f"{write.op} {target}", "target gone; handled as a deletion next cycle"
            )
            return
        self._fail(item, write, result.error or "unknown error")

    def _fail(self, item: Item, write: Write, reason: str) -> None:
        target = write.target
        self._undone.setdefault(id(item), []).append(write)
        self.summary.add(target, "failed")
        self._failed[id(item)] = reason
        record_id = (write.source_id if write.op == "create" else write.target_id) or item.key()
        self.store.record_error(self.pair, target, record_id, write.op, reason)
        self.log.warning(
            "write failed", target=target, op=write.op, record_id=record_id, reason=reason
        )
        self._event(item, f"{write.op} {target} failed", reason)

    def _finish(self, items: Sequence[Item]) -> None:
        """Store the outcome of finished items in one transaction."""
        save: list[Link] = []
        forget: list[int] = []
        resolved: dict[tuple[Side, str], list[str]] = {}
        for item in items:
            # Keyed by id(): an item let go after its chunk may hand its id on.
            self._remaining.pop(id(item), None)
            failed = self._failed.pop(id(item), None)
            done = self._done.pop(id(item), [])
            undone = self._undone.pop(id(item), [])
            if failed is None and item.forget:
                if item.link_id is not None:
                    forget.append(item.link_id)
                continue
            if failed is None and not item.hold:
                link = Link(
                    id=item.link_id,
                    pair=self.pair,
                    nexadesk_id=item.nexadesk_id,
                    crm_id=item.crm_id,
                    base_nexadesk=to_json(item.base["nexadesk"]),
                    base_crm=to_json(item.base["crm"]),
                    nexadesk_version=item.versions["nexadesk"],
                    crm_version=item.versions["crm"],
                    lost=item.lost,
                    pending=None,
                )
                for w in item.writes:
                    # Errors are filed under the id known when the write was planned.
                    key = w.source_id if w.op == "create" else w.target_id
                    if key:
                        resolved.setdefault((w.target, w.op), []).append(key)
            else:
                link = self._held_link(item, done, undone)
            save.append(link)
        if save:
            self._save(save)
        if forget:
            self.store.delete_links(forget)
        for (side, op), ids in resolved.items():
            self.store.resolve_errors(self.pair, side, ids, op)
        if self._events:
            self.store.add_events(self.run_id, self.pair, self._events)
            self._events = []

    def _save(self, links: list[Link]) -> None:
        try:
            self.store.save_links(links)
        except LinkConflict:
            # One lead claimed by two links (e.g. two leads merged into one on a side):
            # save the rest one by one and report the clashing ones.
            for link in links:
                try:
                    self.store.save_links([link])
                except LinkConflict as exc:
                    side: Side = "nexadesk" if link.nexadesk_id else "crm"
                    rid = link.nexadesk_id or link.crm_id or "?"
                    self.store.record_error(self.pair, side, rid, "link", "; ".join(exc.conflicts))
                    self.summary.add(other(side), "failed")

    def _held_link(self, item: Item, done: list[Write], undone: list[Write]) -> Link:
        """A link kept as it was, plus what was seen, so the next cycle retries."""
        prior = self.store.link_by_id(item.link_id) if item.link_id is not None else None
        base: dict[Side, dict[str, Any]] = {
            "nexadesk": dict(prior.base_nexadesk) if prior else {},
            "crm": dict(prior.base_crm) if prior else {},
        }
        # Everything the merge settled is agreed, on both sides, whether it took a write
        # that went through or none at all; only the fields of failed writes keep their
        # old bases, so the next cycle sees them as changed and retries them. (Keeping
        # the old base for an agreed field would let our own write, or a first pairing
        # run again, undo a newer edit.)
        failed = {name for write in undone for name in write.fields}
        for side in SIDES:
            for name, value in to_json(item.base[side]).items():
                if name not in failed:
                    base[side][name] = value
        for write in done:
            if write.op != "update":
                continue
            for name in write.fields:
                seen = item.seen[write.target]
                if seen is not None and name in item.base[write.target]:
                    seen[name] = item.base[write.target][name]
        return Link(
            id=item.link_id,
            pair=self.pair,
            nexadesk_id=(prior.nexadesk_id if prior else None) or item.nexadesk_id,
            crm_id=(prior.crm_id if prior else None) or item.crm_id,
            base_nexadesk=base["nexadesk"],
            base_crm=base["crm"],
            nexadesk_version=item.versions["nexadesk"],
            crm_version=item.versions["crm"],
            lost=prior.lost if prior else None,
            pending=_pending(item),
        )

    def _event(self, item: Item, action: str, detail: str) -> None:
        self._events.append((item.nexadesk_id, item.crm_id, action, detail))


__all__ = ["Executor", "Summary"]
