"""What the commands print: summaries, plans, status and explanations."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from nexasync.engine.plan import Plan
from nexasync.runner import PairOutcome
from nexasync.store.store import StateStore

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


def print_outcomes(outcomes: Sequence[PairOutcome], *, dry_run: bool = False) -> int:
    """Print per pair, per direction counts; return the exit code."""
    from nexasync.cli import EXIT_OK, EXIT_PAIR_FAILED, EXIT_RECORDS_FAILED

    code = EXIT_OK
    for outcome in outcomes:
        if outcome.result is None:
            click.echo(f"pair {outcome.pair}: FAILED: {outcome.error}")
            code = EXIT_PAIR_FAILED
            continue
        if dry_run:
            print_plan(outcome.result.plan)
            continue
        summary = outcome.result.summary
        assert summary is not None
        click.echo(f"pair {outcome.pair} (run {outcome.result.run_id}): {outcome.result.status}")
        for direction, counts in summary.counts.items():
            row = "  ".join(f"{op} {counts.get(op, 0)}" for op in OPS)
            click.echo(f"  {direction:<15} {row}")
        if not any(sum(c.values()) for c in summary.counts.values()) and not summary.invalid:
            click.echo("  nothing to do")
        if summary.invalid:
            click.echo(f"  invalid records read: {summary.invalid}")
        for warning in summary.warnings:
            click.echo(f"  WARNING {warning}")
        if outcome.result.status != "ok" and code == EXIT_OK:
            code = EXIT_RECORDS_FAILED
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
