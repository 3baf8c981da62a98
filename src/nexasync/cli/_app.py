"""The ``nexasync`` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from nexasync import logs
from nexasync.config import Config, ConfigError, load_config

EXIT_OK, EXIT_RECORDS_FAILED, EXIT_CONFIG, EXIT_PAIR_FAILED, EXIT_LOCKED = 0, 1, 2, 3, 4

EXIT_CODES = f"""
\b
Exit codes:
  {EXIT_OK}  every record synced
  {EXIT_RECORDS_FAILED}  some records failed (see `nexasync status`); the rest synced
  {EXIT_CONFIG}  the configuration is invalid; nothing was touched
  {EXIT_PAIR_FAILED}  a pair's cycle could not run (unreachable system, credentials)
  {EXIT_LOCKED}  another process was syncing a pair against the same state; it was skipped
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
        config = load_config(chosen)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    from nexasync.runner import register_config_secrets

    register_config_secrets(config)
    return config


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
