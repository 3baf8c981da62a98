"""The ``nexasync`` command line: one module per command group, registered on import."""

from __future__ import annotations

# One import per command module: each registers its commands on the group.
from nexasync.cli import (
    check,  # noqa: F401
    errors,  # noqa: F401
    inspect,  # noqa: F401
    run,  # noqa: F401
    sandbox,  # noqa: F401
    sync,  # noqa: F401
)
from nexasync.cli._app import (
    EXIT_CODES,
    EXIT_CONFIG,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PAIR_FAILED,
    EXIT_RECORDS_FAILED,
    cli,
)

__all__ = [
    "EXIT_CODES",
    "EXIT_CONFIG",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_PAIR_FAILED",
    "EXIT_RECORDS_FAILED",
    "cli",
    "main",
]


def main() -> None:
    cli()
