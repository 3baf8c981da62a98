"""`nexasync sync --once`: one cycle per pair, or the bundled sandbox with no config."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from nexasync.cli._app import DEMO_STATE, EXIT_CODES, _config_path, _load, _pair_names, _store, cli
from nexasync.config import Config, parse_config

if TYPE_CHECKING:
    from nexasync.runner import PairOutcome
    from nexasync.store.store import StateStore


@cli.command(epilog=EXIT_CODES)
@click.option("--once", is_flag=True, required=True, help="Run one cycle per pair and exit.")
@click.option("--pair", metavar="NAME", help="Only this pair.")
@click.option(
    "--dry-run", is_flag=True, help="Print the plan; write nothing to either system or the store."
)
@click.pass_context
def sync(ctx: click.Context, once: bool, pair: str | None, dry_run: bool) -> None:
    """Run one sync cycle for every pair (or one) and print what it did.

    With no config file at all, it runs against the bundled sandbox (seeded
    emulators on 127.0.0.1, state in ./nexasync-sandbox.db, new each run), so you can try it.
    """
    from nexasync.output import print_outcomes

    if _config_path(ctx.obj["config_path"]) is None:
        code = _sandbox_sync(pair, dry_run)
        sys.exit(code)
    config = _load(ctx.obj["config_path"])
    _pair_names(config, pair)
    store = _store(config)
    try:
        outcomes = _run(config, store, pair, dry_run)
    finally:
        store.close()
    sys.exit(print_outcomes(outcomes, dry_run=dry_run))


def _run(config: Config, store: StateStore, pair: str | None, dry_run: bool) -> list[PairOutcome]:
    """The cycles, stoppable like the service: SIGTERM (a CronJob's deadline, Ctrl-C)
    ends the batch in flight and stores its outcome; a second signal exits at once."""
    from nexasync.runner import sync_once
    from nexasync.stopping import StopOnSignal

    with StopOnSignal() as stopping:
        return sync_once(
            config,
            store,
            pair=pair,
            dry_run=dry_run,
            stop=stopping.event,
            interactive=sys.stderr.isatty(),
        )


def _sandbox_sync(pair: str | None, dry_run: bool) -> int:
    from nexasync.output import print_outcomes
    from nexasync.sandbox import Sandbox
    from nexasync.store.store import StateStore

    click.echo("No config found: syncing the bundled sandbox (emulators on 127.0.0.1).", err=True)
    with Sandbox(seed_nexadesk=40, seed_salesforce=25) as sandbox:
        # The emulators are new on every run, so the state must be too.
        for path in Path().glob(f"{DEMO_STATE}*"):
            path.unlink(missing_ok=True)
        config = parse_config(sandbox.config(f"sqlite:///{DEMO_STATE}"))
        _pair_names(config, pair)
        store = StateStore(config.state.url)
        try:
            outcomes = _run(config, store, pair, dry_run)
        finally:
            store.close()
        code = print_outcomes(outcomes, dry_run=dry_run)
        nd, sf = len(sandbox.nexadesk.leads()), len(sandbox.salesforce.leads())
        click.echo(f"sandbox now holds {nd} NexaDesk leads and {sf} Salesforce leads")
    return code
