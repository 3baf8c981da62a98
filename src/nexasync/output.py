"""What the commands print: summaries, plans, status and explanations."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone

import click

from nexasync.engine.plan import Plan
from nexasync.logs import scrub
from nexasync.runner import PairOutcome
from nexasync.store._history import READ_OP
from nexasync.store.store import RecordError, StateStore

OPS = ("created", "updated", "deleted", "skipped", "failed")


def print_plan(plan: Plan) -> None:
    click.echo(f"plan for pair {plan.pair}:")
    writes = [(i, w) for i in plan.items for w in i.writes]
    for item in plan.items:
        for write in item.writes:
            if write.op == "create":
                who = write.fields.get("visitor_name") or "(no name)"
                email = write.fields.get("visitor_email")
                fields = f"{who} <{email}>" if email else str(who)
            else:
                fields = ", ".join(sorted(write.fields)) if write.op == "update" else ""
            target = write.target_id or f"(copy of {write.source_id})"
            click.echo(f"  {write.op:<6} {write.target:<8} {target} {fields}".rstrip())
        # An item's notes explain all of its writes: once, not once per write.
        for note in item.notes if item.writes else ():
            click.echo(f"           why: {note}")
    for item in plan.items:
        for side, reason in item.skipped:
            click.echo(f"  skip   {side:<8} {item.key()}: {reason}")
    for side, record_id, reason in plan.invalid:
        click.echo(f"  invalid {side} {record_id}: {reason}")
    for warning in plan.warnings:
        click.echo(f"  WARNING {warning}")
    if not writes:
        click.echo("  nothing to write")
    for target, direction in (("crm", "nexadesk->crm"), ("nexadesk", "crm->nexadesk")):
        would = "  ".join(
            f"{op} {len(plan.writes(target, op))}" for op in ("create", "update", "delete")
        )
        click.echo(f"  {direction:<15} would {would}")


def _worse(code: int, other: int) -> int:
    """The exit code that says more: a pair that could not run outranks one skipped
    for a lock, which outranks records that failed."""
    from nexasync.cli import EXIT_LOCKED, EXIT_OK, EXIT_PAIR_FAILED, EXIT_RECORDS_FAILED

    rank = [EXIT_OK, EXIT_RECORDS_FAILED, EXIT_LOCKED, EXIT_PAIR_FAILED]
    return max(code, other, key=rank.index)


def print_outcomes(outcomes: Sequence[PairOutcome], *, dry_run: bool = False) -> int:
    """Print per pair, per direction counts; return the exit code."""
    from nexasync.cli import EXIT_LOCKED, EXIT_OK, EXIT_PAIR_FAILED, EXIT_RECORDS_FAILED

    code = EXIT_OK
    for outcome in outcomes:
        if outcome.skipped is not None:
            click.echo(f"pair {outcome.pair}: SKIPPED: {outcome.skipped}")
            code = _worse(code, EXIT_LOCKED)
            continue
        if outcome.result is None:
            click.echo(f"pair {outcome.pair}: FAILED: {scrub(outcome.error or '')}")
            code = _worse(code, EXIT_PAIR_FAILED)
            continue
        if dry_run:
            print_plan(outcome.result.plan)
            continue
        summary = outcome.result.summary
        click.echo(f"pair {outcome.pair} (run {outcome.result.run_id}): {outcome.result.status}")
        if outcome.result.status == "interrupted":
            click.echo("  stopped on request; the next run carries on from here")
            code = _worse(code, EXIT_RECORDS_FAILED)
        if summary is None:
            continue
        for direction, counts in summary.counts.items():
            row = "  ".join(f"{op} {counts.get(op, 0)}" for op in OPS)
            click.echo(f"  {direction:<15} {row}")
        if not any(sum(c.values()) for c in summary.counts.values()) and not summary.invalid:
            click.echo("  nothing to do")
        if summary.invalid:
            click.echo(f"  invalid records read: {summary.invalid}")
        for warning in summary.warnings:
            click.echo(f"  WARNING {warning}")
        if outcome.result.status != "ok":
            code = _worse(code, EXIT_RECORDS_FAILED)
    return code


def print_status(store: StateStore, pairs: Sequence[str]) -> None:
    for pair in pairs:
        live = store.link_count(pair)
        lost = store.link_count(pair, include_lost=True) - live
        # A link still holding pending state is not in sync yet (e.g. a failed create).
        waiting = len(store.pending_links(pair))
        click.echo(f"pair {pair}: {live} links ({waiting} waiting for a retry, {lost} lost)")
        for side in ("nexadesk", "crm"):
            cursor = store.get_cursor(pair, side)
            shown = json.dumps(cursor) if cursor else "(none: next run is a full read)"
            click.echo(f"  cursor {side}: {shown}")
        runs = store.last_runs(pair, limit=5)
        if not runs:
            click.echo("  no runs yet")
        for run in runs:
            finished = run.finished_at.isoformat() if run.finished_at else "-"
            started = run.started_at.isoformat()
            click.echo(f"  run {run.id} {run.status:<8} started {started} finished {finished}")
            if run.error:
                click.echo(f"      error: {run.error}")
        errors = store.open_errors(pair)
        click.echo(f"  open record errors: {len(errors)}")
        for err in errors[:20]:
            next_try = err.next_retry_at.isoformat() if err.next_retry_at else "-"
            click.echo(
                f"    {err.side} {err.record_id} {err.op}: {err.reason} "
                f"(attempts {err.attempts}, next try {next_try})"
            )


def print_explain(store: StateStore, record_id: str) -> bool:
    links = store.links_for_id(record_id)
    events = store.events_for(record_id)
    if not links and not events:
        click.echo(f"{record_id}: not known to the state store (never synced, or unlinked)")
        return False
    for link in links:
        nd, crm = (i or "(not created yet)" for i in (link.nexadesk_id, link.crm_id))
        click.echo(f"pair {link.pair}: nexadesk {nd} <-> crm {crm}")
        if link.lost:
            click.echo(f"  lost: {link.lost}")
        click.echo(f"  versions: nexadesk {link.nexadesk_version}, crm {link.crm_version}")
        click.echo(f"  base nexadesk: {json.dumps(link.base_nexadesk, sort_keys=True)}")
        click.echo(f"  base crm:      {json.dumps(link.base_crm, sort_keys=True)}")
        if link.pending:
            click.echo(f"  pending (to retry): {json.dumps(link.pending, sort_keys=True)}")
    click.echo("history (newest first):")
    for event in events:
        click.echo(f"  {event.at.isoformat()} run {event.run_id}: {event.action} — {event.detail}")
    return True


# -- record errors (`nexasync errors`) ---------------------------------------------------

#: What an operator runs, or waits for, to get a retried record written.
NEXT_CYCLE = "the next cycle (`nexasync sync --once`, or the running service) retries it"


def _utc(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return " ".join(parts[:2]) if parts else f"{seconds}s"


def relative(when: datetime, now: datetime) -> str:
    """``in 2m``, ``5h 3m ago``: a time as an operator reads it."""
    delta = when - now
    return f"in {_span(delta)}" if delta.total_seconds() > 0 else f"{_span(delta)} ago"


def error_subject(err: RecordError, systems: Mapping[str, str]) -> str:
    """What failed, in words: the operation, the system and whose record id it names.

    A create is filed under the id of the record it copies, on the other side."""
    system = systems.get(err.side, err.side)
    if err.op == "create":
        source_side = "crm" if err.side == "nexadesk" else "nexadesk"
        source = systems.get(source_side, source_side)
        return f"create in {system} of {source} record {err.record_id}"
    return f"{err.op} of {system} record {err.record_id}"


def print_errors(
    errors: Sequence[RecordError],
    systems: Mapping[str, Mapping[str, str]],
    now: datetime,
    *,
    include_resolved: bool = False,
) -> None:
    """One block per error; ``systems`` maps pair -> side -> system name."""
    open_count = sum(1 for e in errors if e.resolved_at is None)
    if not errors:
        click.echo("no record errors" if include_resolved else "no open record errors")
        return
    resolved = len(errors) - open_count
    tail = f", {resolved} resolved" if include_resolved else ""
    click.echo(f"{open_count} open record error{'' if open_count == 1 else 's'}{tail}")
    for err in errors:
        names = systems.get(err.pair, {})
        state = "" if err.resolved_at is None else " (resolved)"
        click.echo(f"error {err.id} [pair {err.pair}] {error_subject(err, names)}{state}")
        click.echo(f"  reason:     {err.reason}")
        click.echo(
            f"  attempts:   {err.attempts} (first seen {_utc(err.first_seen)}, "
            f"last seen {_utc(err.last_seen)})"
        )
        if err.resolved_at is not None:
            click.echo(f"  resolved:   {relative(err.resolved_at, now)} ({_utc(err.resolved_at)})")
        elif err.op == READ_OP:
            system = names.get(err.side, err.side)
            click.echo(f"  next retry: when the record changes in {system} (fix it there)")
        elif err.next_retry_at <= now:
            click.echo(f"  next retry: due now, {NEXT_CYCLE} ({_utc(err.next_retry_at)})")
        else:
            click.echo(
                f"  next retry: {relative(err.next_retry_at, now)} ({_utc(err.next_retry_at)})"
            )


def print_retry_note(err: RecordError, systems: Mapping[str, str], *, waiting: bool) -> None:
    """What ``errors retry`` did with one error; ``waiting``: its record's link holds the
    failed write, so a due error is picked up by the next cycle."""
    subject = error_subject(err, systems)
    if err.resolved_at is not None:
        click.echo(f"error {err.id}: already resolved ({_utc(err.resolved_at)}): {subject}")
    elif err.op == READ_OP:
        system = systems.get(err.side, err.side)
        click.echo(
            f"error {err.id}: not retried: {system} record {err.record_id} could not be read "
            f"({err.reason}). Fix the record in {system}: nexasync reads it again when it "
            "changes, and the error clears then."
        )
    elif waiting:
        click.echo(f"error {err.id}: due now, {NEXT_CYCLE}: {subject}")
    else:
        click.echo(
            f"error {err.id}: due now, but no failed write of it is held for a retry: "
            f"{subject} is tried again when the record changes "
            f"(see `nexasync explain {err.record_id}`)"
        )
