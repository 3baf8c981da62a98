"""`nexasync errors list` and `nexasync errors retry`: the records that failed, why,
how often and when they are tried next; and "try them on the next cycle"."""

from __future__ import annotations

import sys
from typing import Any

import click

from nexasync.cli._app import EXIT_OK, EXIT_RECORDS_FAILED, _load, _pair_names, _store, cli
from nexasync.config import Config


def _systems(config: Config) -> dict[str, dict[str, str]]:
    """pair -> side -> system name, so errors read "salesforce", not "crm"."""
    return {p.name: {"nexadesk": "nexadesk", "crm": p.crm.type} for p in config.pairs}


def _waiting(store: Any, pair: str, record_id: str) -> bool:
    """Whether a live link of the record holds a failed write: what a cycle retries."""
    return any(
        link.pair == pair and link.pending and not link.lost
        for link in store.links_for_id(record_id)
    )


@cli.group()
def errors() -> None:
    """Records that failed to sync: why, how often, when next tried; retry now."""


@errors.command("list")
@click.option("--pair", metavar="NAME", help="Only this pair.")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved errors.")
@click.pass_context
def list_errors(ctx: click.Context, pair: str | None, include_resolved: bool) -> None:
    """Open record errors, soonest retry first (with --all, resolved ones after them)."""
    from nexasync.output import print_errors
    from nexasync.store.models import utcnow

    config = _load(ctx.obj["config_path"])
    if pair:
        _pair_names(config, pair)
    store = _store(config)
    try:
        found = store.list_errors(pair, include_resolved=include_resolved)
    finally:
        store.close()
    print_errors(found, _systems(config), utcnow(), include_resolved=include_resolved)


@errors.command()
@click.argument("ids", nargs=-1, type=int, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every open error (of --pair).")
@click.option("--pair", metavar="NAME", help="Only errors of this pair.")
@click.pass_context
def retry(ctx: click.Context, ids: tuple[int, ...], every: bool, pair: str | None) -> None:
    """Make record errors due now: the next cycle (`sync --once` or the running
    service) retries their records instead of waiting out the backoff.

    IDs are the numbers `nexasync errors list` shows. A record that could not be
    read is not retried by nexasync: fix it in its system; it is read again when it
    changes. Exits 1 when a named error was unknown or could not be retried.
    """
    from nexasync.output import print_retry_note

    if bool(ids) == every:
        raise click.UsageError("name the error IDs to retry, or pass --all (not both)")
    config = _load(ctx.obj["config_path"])
    if pair:
        _pair_names(config, pair)
    systems = _systems(config)
    store = _store(config)
    try:
        if ids:
            named = store.errors_by_id(ids)
            unknown = [i for i in ids if i not in named or (pair and named[i].pair != pair)]
            if unknown:
                where = f" of pair {pair}" if pair else ""
                listed = ", ".join(str(i) for i in unknown)
                click.echo(
                    f"error: no record error{where} with id {listed} "
                    "(see `nexasync errors list --all`); nothing was changed",
                    err=True,
                )
                sys.exit(EXIT_RECORDS_FAILED)
            chosen = [named[i] for i in dict.fromkeys(ids)]
        else:
            chosen = store.list_errors(pair)
        retried = {e.id: e for e in store.retry_errors([e.id for e in chosen if e.id], pair=pair)}
        if not chosen:
            click.echo("no open record errors to retry")
        code = EXIT_OK
        for err in chosen:
            now_due = retried.get(err.id)
            waiting = now_due is not None and _waiting(store, err.pair, err.record_id)
            print_retry_note(now_due or err, systems.get(err.pair, {}), waiting=waiting)
            if ids and now_due is None:
                code = EXIT_RECORDS_FAILED
    finally:
        store.close()
    sys.exit(code)
