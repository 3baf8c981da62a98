"""`nexasync sandbox`: the emulators on fixed ports with a ready config."""

from __future__ import annotations

import threading
from pathlib import Path

import click
import yaml

from nexasync.cli._app import cli


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
