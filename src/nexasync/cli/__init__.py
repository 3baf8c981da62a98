"""The ``nexasync`` command line: one module per command group, registered on import."""

from __future__ import annotations

from nexasync.cli import inspect, sandbox, sync  # noqa: F401  (registers the commands)
from nexasync.cli._app import (
    EXIT_CODES,
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_PAIR_FAILED,
    EXIT_RECORDS_FAILED,
    cli,
)

__all__ = [
    "EXIT_CODES",
    "EXIT_CONFIG",
    "EXIT_OK",
    "EXIT_PAIR_FAILED",
    "EXIT_RECORDS_FAILED",
    "cli",
    "main",
]


def main() -> None:
    cli()
