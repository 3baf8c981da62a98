"""One sync cycle of one pair: recover, pull both sides, reconcile, execute, record.

A first sync reads the CRM first and writes NexaDesk's new leads while NexaDesk is
still being read (:mod:`.stream`); every other cycle reads both sides, then plans.

The cursors are stored last, after every write's outcome is in the store: a cycle
killed at any point reads the same changes again next time, and the links saved
so far make those re-reads no-ops (their versions match, or their values agree).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import structlog

from nexasync.config import PairConfig
from nexasync.connectors.base import Connector, Pull, Record
from nexasync.engine.chunking import CHUNK, Chunk, Chunker
from nexasync.engine.execute import Executor, Summary
from nexasync.engine.merges import plan_merges
from nexasync.engine.plan import SIDES, Plan, Side, other
from nexasync.engine.progress import Progress
from nexasync.engine.reconcile import Policy, guard_deletes, reconcile
from nexasync.engine.recover import recover_intents
from nexasync.engine.reps import settle_owners, share_reps
from nexasync.engine.spool import Spool
from nexasync.engine.stream import Streamer
from nexasync.lead import norm_email
from nexasync.store.store import Link, StateStore


@dataclass
class CycleResult:
    pair: str
    run_id: str
    plan: Plan
    summary: Summary | None
    status: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Interrupted(Exception):
    """A stop was asked for (SIGTERM) while the cycle was reading."""


def policy_for(config: PairConfig, connectors: Mapping[Side, Connector]) -> Policy:
    return Policy(
        rule_of=config.rule,
        delete_policy={
            "nexadesk": config.deletes.nexadesk_to_crm,
            "crm": config.deletes.crm_to_nexadesk,
        },
        max_delete_ratio=config.deletes.max_ratio,
        max_unguarded_deletes=config.deletes.max_unguarded,
        project={s: connectors[s].project for s in SIDES},
    )


def _collect(
    pull: Pull,
    side: Side,
    stop: threading.Event,
    progress: Progress,
    offer: Callable[[Record], None] | None = None,
) -> Spool:
    out = Spool()
    progress.reading(side)
    for record in pull:
        if stop.is_set():
            # Dropping what was read loses nothing, since the cursor only moves at the
            # end of a finished cycle; what was written meanwhile has its links stored.
            raise Interrupted
        out.add(record)  # a record seen twice while paginating: the later wins
        progress.pulled(side)
        if offer is not None:
            offer(record)
    return out


def _drop_echoes(records: dict[str, Record], links: Mapping[str, Link], side: Side) -> None:
    """Forget records read again at the version already synced (the overlap window,
    our own writes coming back): they cannot carry news."""
    for rid in [rid for rid, r in records.items() if not r.deleted and r.version]:
        link = links.get(rid)
        if link is None or link.pending:
            continue
        synced = link.nexadesk_version if side == "nexadesk" else link.crm_version
        if synced == records[rid].version:
            del records[rid]


def _candidates(
    changes: Mapping[Side, dict[str, Record]],
    links: Mapping[Side, Mapping[str, Link]],
    full_read: Mapping[Side, bool],
    connectors: Mapping[Side, Connector],
    spools: Mapping[Side, Spool],
) -> dict[Side, list[Record]]:
    """Ask each side for records that may already be the other side's new leads.

    Skipped when that side was read in full this cycle (a first sync): everything it
    holds is already in hand, and asking again would only cost requests; so is a
    lead whose email some record read from the other side this cycle carries."""
    out: dict[Side, list[Record]] = {"nexadesk": [], "crm": []}
    for side in SIDES:
        there = other(side)
        if full_read[there]:
            continue
        wanted = [
            r.fields
            for r in changes[side].values()
            if r.id not in links[side]
            and not r.deleted
            and r.invalid is None
            and norm_email(r.fields.get("visitor_email"))
            and not spools[there].has_email(norm_email(r.fields.get("visitor_email")))
        ]
        if wanted:
            for found in connectors[there].match(wanted):
                out[there].extend(found)
    return out


def run_cycle(
    config: PairConfig,
    store: StateStore,
    connectors: Mapping[Side, Connector],
    *,
    dry_run: bool = False,
    run_id: str | None = None,
    now: datetime | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    chunk_size: int = CHUNK,
) -> CycleResult:
    """One cycle. Setting ``stop`` ends it early but cleanly: while reading, before
    anything is written; while writing, after the batch in flight, with every
    outcome so far stored. Its status is then "interrupted" and the cursors stay
    where they were, so the next cycle reads the same changes again."""
    pair = config.name
    run_id = run_id or uuid.uuid4().hex[:12]
    now = now or datetime.now(timezone.utc)
    stop = stop or threading.Event()
    progress = progress or Progress()
    # Bound once for the whole cycle: every line logged meanwhile, the connectors'
    # included, carries the pair and the run id.
    with structlog.contextvars.bound_contextvars(pair=pair, run_id=run_id):
        try:
            return _run_cycle(
                config, store, connectors, dry_run, run_id, now, stop, progress, chunk_size
            )
        finally:
            progress.finish()


def _run_cycle(
    config: PairConfig,
    store: StateStore,
    connectors: Mapping[Side, Connector],
    dry_run: bool,
    run_id: str,
    now: datetime,
    stop: threading.Event,
    progress: Progress,
    chunk_size: int,
) -> CycleResult:
    pair = config.name
    log = structlog.get_logger("nexasync.cycle")
    if not dry_run:
        store.start_run(pair, run_id)
    executor: Executor | None = None
    try:
        if not dry_run:
            recovered = recover_intents(pair, store, connectors)
            if recovered:
                log.info("recovered interrupted creates", count=recovered)
        cursors = {s: store.get_cursor(pair, s) for s in SIDES}
        full = {s: cursors[s] is None for s in SIDES}
        policy = policy_for(config, connectors)
        link_count = store.link_count(pair)
        executor = None if dry_run else Executor(pair, run_id, store, connectors, policy.project)
        plan = Plan(pair)
        spools: dict[Side, Spool] = {}

        def plan_chunk(chunk: Chunk) -> None:
            for side in SIDES:
                _drop_echoes(chunk.changes[side], chunk.links[side], side)
            part = reconcile(
                pair,
                chunk.changes,
                chunk.relevant(),
                _candidates(chunk.changes, chunk.links, full, connectors, spools),
                link_count,
                policy,
                guard=False,
            )
            plan.absorb(part, keep_items=dry_run)
            progress.plan(part)
            if executor is not None:
                executor.submit(part, stop=stop, progress=progress)

        def plan_streamed(chunk: Chunk) -> None:
            # The reps read so far, so the CRM connector maps these leads' owners.
            share_reps(pair, store, connectors, dry_run)
            plan_chunk(chunk)
            if executor is not None and executor.interrupted:
                raise Interrupted

        # A first sync reads the CRM first and plans NexaDesk's leads as they come
        # (see .stream); a dry run plans after reading, so nothing is planned twice.
        streaming = all(full.values()) and executor is not None
        streamer: Streamer | None = None
        pulls: dict[Side, Pull] = {}
        for side in ("crm", "nexadesk") if streaming else SIDES:
            if side == "crm":
                share_reps(pair, store, connectors, dry_run)
            pulls[side] = connectors[side].pull(cursors[side], store.known_ids(pair, side))
            if side == "nexadesk" and streaming:
                streamer = Streamer(pair, store, spools["crm"], plan_streamed, chunk_size)
            offer = None if streamer is None else streamer.offer
            spools[side] = _collect(pulls[side], side, stop, progress, offer)
            log.info(
                "pulled", side=side, system=connectors[side].system, records=len(spools[side])
            )
        taken: dict[Side, set[str]] = {"nexadesk": set(), "crm": set()}
        if streamer is not None:
            taken["nexadesk"] = streamer.done()
            share_reps(pair, store, connectors, dry_run)
            settle_owners(connectors["crm"], spools["crm"])
            if streamer.again and executor is not None:
                # Their creates must be stored as links before their later reading is
                # planned, or that reading would be created again.
                executor.drain()
        survivors = spools["crm"].records(sorted(spools["crm"].merged))
        relinks, notes = plan_merges(pair, store, survivors)
        if relinks and not dry_run:
            store.save_links(relinks)
            store.add_events(
                run_id,
                pair,
                [(r.nexadesk_id, r.crm_id, "crm merge", n) for r, n in zip(relinks, notes)],
            )
        for note in notes:
            log.info("crm merge", detail=note)
        pending = store.pending_links(pair, now=now)
        if streamer is not None:
            # What this cycle's streamed writes left pending waits for the next cycle,
            # as every write's outcome does.
            pending = [p for p in pending if p.nexadesk_id not in streamer.planned]
        chunker = Chunker(pair, store, spools, pending, chunk_size, taken=taken)
        # Planned and written a chunk at a time, so what is alive at once is one chunk's
        # records and items however many leads changed.
        for chunk in chunker.chunks():
            if executor is not None and executor.interrupted:
                break
            plan_chunk(chunk)
        if executor is None:
            guard_deletes(plan, link_count, policy)
            for warning in plan.warnings:
                log.warning("guard", message=warning)
            return CycleResult(pair, run_id, plan, None, "dry-run")
        if not executor.interrupted:
            executor.drain()
        if not executor.interrupted:
            warnings = executor.finish_deletes(link_count, policy)
            plan.warnings.extend(warnings)
            for warning in warnings:
                log.warning("guard", message=warning)
            plan.tally.subtract(f"{w.target}.delete" for _, w in executor.held_deletes)
        summary = executor.summary
        if executor.interrupted:
            store.finish_run(run_id, "interrupted", summary.as_dict())
            log.info("cycle interrupted", stage="writing", **_flat(summary))
            return CycleResult(pair, run_id, plan, summary, "interrupted")
        for side in SIDES:
            # A record that could not be read, fixed at its source (or deleted), reads
            # fine now: its read error is over.
            readable = [rid for rid in spools[side] if rid not in spools[side].invalid]
            store.resolve_read_errors(pair, side, readable)
        for side in SIDES:
            if pulls[side].cursor is not None:
                store.set_cursor(pair, side, pulls[side].cursor)
        # Held deletes (the guard) count as not synced: the operator must look.
        status = "ok" if summary.failed == 0 and not summary.warnings else "partial"
        store.finish_run(run_id, status, summary.as_dict())
        log.info("cycle done", status=status, **_flat(summary))
        return CycleResult(pair, run_id, plan, summary, status)
    except Interrupted:
        # While reading, only a first sync has written anything (see .stream).
        summary = None if executor is None else executor.summary
        if not dry_run:
            store.finish_run(run_id, "interrupted", summary.as_dict() if summary else {})
        log.info("cycle interrupted", stage="reading")
        return CycleResult(pair, run_id, Plan(pair), summary, "interrupted")
    except Exception as exc:
        if not dry_run:
            store.finish_run(run_id, "failed", {}, error=f"{type(exc).__name__}: {exc}")
        log.error("cycle failed", error=f"{type(exc).__name__}: {exc}")
        raise


def _flat(summary: Summary) -> dict[str, int]:
    out: dict[str, int] = {}
    for direction, counts in summary.counts.items():
        for what, n in counts.items():
            out[f"{direction}.{what}"] = n
    return out
