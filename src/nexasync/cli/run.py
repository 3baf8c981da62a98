"""`nexasync run`: the long-running service."""

from __future__ import annotations

import sys

import click

from nexasync.cli._app import EXIT_PAIR_FAILED, _load, _store, cli

RUN_EPILOG = """
\b
Stopping: SIGTERM or SIGINT (Ctrl-C) lets running cycles finish their current
batch and store their outcome, then exits 0; a second signal exits at once (the
next start recovers). After service.stop_timeout_seconds it exits 1 anyway.
\b
Endpoint (service.listen, default 127.0.0.1:9464):
  /healthz   200 while the process is alive
  /readyz    200 while every pair's last good cycle is recent enough
  /metrics   Prometheus metrics
"""


@cli.command(epilog=RUN_EPILOG)
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run as a service: every pair's cycle on its interval, until stopped.

    Each pair runs every `interval_seconds` (plus up to `service.jitter_seconds`),
    never twice at once, and never while another process (a cron `sync --once`, a
    second replica) syncs it against the same state store.
    """
    from nexasync.service import serve

    config = _load(ctx.obj["config_path"])
    store = _store(config)
    try:
        code = serve(config, store)
    except OSError as exc:
        # The health endpoint could not bind (port in use, address not local).
        click.echo(f"error: cannot listen on {config.service.listen}: {exc.strerror}", err=True)
        click.echo('set service.listen to a free host:port, or "" to turn it off', err=True)
        code = EXIT_PAIR_FAILED
    finally:
        store.close()
    sys.exit(code)
