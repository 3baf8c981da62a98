"""The ``nexasync`` command line."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import click
import yaml

from nexasync import logs
from nexasync.config import Config, ConfigError, load_config, parse_config

EXIT_OK, EXIT_RECORDS_FAILED, EXIT_CONFIG, EXIT_PAIR_FAILED = 0, 1, 2, 3

EXIT_CODES = f"""
\b
Exit codes:
  {EXIT_OK}  every record synced
  {EXIT_RECORDS_FAILED}  some records failed (see `nexasync status`); the rest synced
  {EXIT_CONFIG}  the configuration is invalid; nothing was touched
  {EXIT_PAIR_FAILED}  a pair's cycle could not run (unreachable system, credentials)
"""

DEFAULT_CONFIG = "nexasync.yaml"
DEMO_STATE = "nexasync-sandbox.db"


def _config_path(path: str | None) -> Path | None:
    chosen = path or os.environ.get("NEXASYNC_CONFIG")
    if chosen:
        return Path(chosen)
    default = Path(DEFAULT_CONFIG)
    return default if default.exists() else None


def _load(path: str | None) -> Config:
    chosen = _config_path(path)
    if chosen is None:
        raise click.UsageError(
            f"no config: pass --config, set NEXASYNC_CONFIG, or create ./{DEFAULT_CONFIG} "
            "(see config.example.yaml)"
        )
    try:
        return load_config(chosen)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def _store(config: Config) -> Any:
    from nexasync.store.store import StateStore

    try:
        return StateStore(config.state.url)
    except Exception as exc:  # SQLAlchemy masks a URL's password in its messages
        click.echo(f"error: cannot open the state store: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_PAIR_FAILED)


def _pair_names(config: Config, pair: str | None) -> list[str]:
    try:
        return [config.pair(pair).name] if pair else [p.name for p in config.pairs]
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help=f"Config file (default ./{DEFAULT_CONFIG} or $NEXASYNC_CONFIG).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--log-format",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "json", "console"]),
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str, log_format: str) -> None:
    """Keep leads identical between NexaDesk and your CRM, both ways."""
    logs.configure(log_level, log_format)
    ctx.obj = {"config_path": config_path}


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
    from nexasync.runner import sync_once

    if _config_path(ctx.obj["config_path"]) is None:
        code = _sandbox_sync(pair, dry_run)
        sys.exit(code)
    config = _load(ctx.obj["config_path"])
    _pair_names(config, pair)
    store = _store(config)
    try:
        outcomes = sync_once(config, store, pair=pair, dry_run=dry_run)
    finally:
        store.close()
    sys.exit(print_outcomes(outcomes, dry_run=dry_run))


def _sandbox_sync(pair: str | None, dry_run: bool) -> int:
    from nexasync.output import print_outcomes
    from nexasync.runner import sync_once
    from nexasync.sandbox import Sandbox
    from nexasync.store.store import StateStore

    click.echo("No config found: syncing the bundled sandbox (emulators on 127.0.0.1).", err=True)
    with Sandbox(seed_nexadesk=40, seed_salesforce=25) as sandbox:
        # The emulators are new on every run, so the state must be too.
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DEMO_STATE}{suffix}").unlink(missing_ok=True)
        config = parse_config(sandbox.config(f"sqlite:///{DEMO_STATE}"))
        _pair_names(config, pair)
        store = StateStore(config.state.url)
        try:
            outcomes = sync_once(config, store, pair=pair, dry_run=dry_run)
        finally:
            store.close()
        code = print_outcomes(outcomes, dry_run=dry_run)
        nd, sf = len(sandbox.nexadesk.leads()), len(sandbox.salesforce.leads())
        click.echo(f"sandbox now holds {nd} NexaDesk leads and {sf} Salesforce leads")
    return code


@cli.command()
@click.option("--nexadesk-port", default=8700, show_default=True, help="0 picks a free port.")
@click.option("--salesforce-port", default=8701, show_default=True, help="0 picks a free port.")
@click.option("--hubspot-port", default=8702, show_default=True, help="0 picks a free port.")
@click.option("--leads", default=40, show_default=True, help="Leads to seed on each side.")
@click.option(
    "--crm",
    "crm_kind",
    default="salesforce",
    show_default=True,
    type=click.Choice(["salesforce", "hubspot"]),
    help="Which CRM the written config syncs NexaDesk with.",
)
@click.option(
    "--dir",
    "directory",
    default=".nexasync-sandbox",
    show_default=True,
    help="Where the test CA and config go.",
)
def sandbox(
    nexadesk_port: int,
    salesforce_port: int,
    hubspot_port: int,
    leads: int,
    crm_kind: str,
    directory: str,
) -> None:
    """Start the NexaDesk, Salesforce and HubSpot emulators and print a ready config.

    Runs until interrupted (Ctrl-C).
    """
    from nexasync.sandbox import Sandbox

    folder = Path(directory).resolve()
    box = Sandbox(
        folder,
        nexadesk_port=nexadesk_port,
        salesforce_port=salesforce_port,
        hubspot_port=hubspot_port,
        seed_nexadesk=leads,
        seed_salesforce=leads // 2,
        seed_hubspot=leads // 2,
    )
    with box:
        config_file = folder / "nexasync.yaml"
        data = box.config(f"sqlite:///{folder / 'state.db'}", crm_kind)
        config_file.write_text(yaml.safe_dump(data, sort_keys=False))
        click.echo(f"NexaDesk emulator:   {box.nexadesk_url}")
        click.echo(f"Salesforce emulator: {box.salesforce_url} (CA: {box.ca.ca_bundle})")
        click.echo(f"HubSpot emulator:    {box.hubspot_url}")
        click.echo(f"Config written to {config_file}:\n")
        click.echo(config_file.read_text())
        click.echo(
            f"Try: nexasync --config {config_file} sync --once    (Ctrl-C stops the sandbox)"
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("stopped")


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


def main() -> None:
    cli()
