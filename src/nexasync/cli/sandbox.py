"""`nexasync sandbox`: the emulators on fixed ports with a ready config."""

from __future__ import annotations

import signal
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
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address the emulators listen on (0.0.0.0: every interface, e.g. in a container).",
)
@click.option(
    "--advertise-host",
    metavar="NAME",
    help="Host name written in the config's URLs and the test certificate "
    "(e.g. the container's service name). Default: the --host address.",
)
@click.option(
    "--service-listen",
    metavar="HOST:PORT",
    help="service.listen written in the config (e.g. 0.0.0.0:9464 for a container).",
)
def sandbox(
    nexadesk_port: int,
    salesforce_port: int,
    hubspot_port: int,
    leads: int,
    crm_kind: str,
    directory: str,
    host: str,
    advertise_host: str | None,
    service_listen: str | None,
) -> None:
    """Start the NexaDesk, Salesforce and HubSpot emulators and print a ready config.

    Runs until interrupted (Ctrl-C).
    """
    from nexasync.sandbox import Sandbox

    stop = threading.Event()
    # SIGTERM is how containers and service managers stop a process (as PID 1 in a
    # container it would otherwise be ignored until the runtime's SIGKILL). Set before
    # anything is printed: whoever reads the output may stop the sandbox right away.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    folder = Path(directory).resolve()
    config_file = folder / "nexasync.yaml"
    # A config left by an earlier run names a CA that no longer exists: whoever waits
    # for the file (a container's health check) must not find it before this run's.
    config_file.unlink(missing_ok=True)
    box = Sandbox(
        folder,
        nexadesk_port=nexadesk_port,
        salesforce_port=salesforce_port,
        hubspot_port=hubspot_port,
        seed_nexadesk=leads,
        seed_salesforce=leads // 2,
        seed_hubspot=leads // 2,
        host=host,
        advertise_host=advertise_host,
    )
    with box:
        data = box.config(f"sqlite:///{folder / 'state.db'}", crm_kind)
        if service_listen:
            data = {**data, "service": {"listen": service_listen}}
        # Written whole, then renamed: a reader waiting for the file never sees half of it.
        partial = config_file.with_name(config_file.name + ".tmp")
        partial.write_text(yaml.safe_dump(data, sort_keys=False))
        partial.replace(config_file)
        click.echo(f"NexaDesk emulator:   {box.nexadesk_url}")
        click.echo(f"Salesforce emulator: {box.salesforce_url} (CA: {box.ca.ca_bundle})")
        click.echo(f"HubSpot emulator:    {box.hubspot_url}")
        click.echo(f"Config written to {config_file}:\n")
        click.echo(config_file.read_text())
        click.echo(
            f"Try: nexasync --config {config_file} sync --once    (Ctrl-C stops the sandbox)"
        )
        while not stop.wait(1.0):  # a timed wait lets the handlers run promptly
            pass
        click.echo("stopped")
