"""`nexasync status` and `nexasync explain`: reading the state store."""

from __future__ import annotations

import sys

import click

from nexasync.cli._app import _load, _pair_names, _store, cli


@cli.command()
@click.option("--pair", metavar="NAME", help="Only this pair.")
@click.pass_context
def status(ctx: click.Context, pair: str | None) -> None:
    """Last runs per pair, cursors, link counts and open record errors."""
    from nexasync.output import print_status

    config = _load(ctx.obj["config_path"])
    names = _pair_names(config, pair)
    store = _store(config)
    try:
        print_status(store, names)
    finally:
        store.close()


@cli.command()
@click.argument("record_id")
@click.pass_context
def explain(ctx: click.Context, record_id: str) -> None:
    """Show one lead's link, base snapshots and what recent cycles did to it and why.

    RECORD_ID is either side's id.
    """
    from nexasync.output import print_explain

    config = _load(ctx.obj["config_path"])
    store = _store(config)
    try:
        if not print_explain(store, record_id):
            sys.exit(1)
    finally:
        store.close()
