"""Structured logging: JSON lines off a terminal, readable lines on one, always to
stderr (stdout is for command output). Values under secret-looking keys are
redacted, and known secret values are scrubbed from every string.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = ("password", "token", "secret", "api_key", "authorization", "session_id")
_secret_values: set[str] = set()


def register_secrets(values: Iterable[str | None]) -> None:
    """Values that must never appear in a log line (checked as substrings)."""
    _secret_values.update(v for v in values if v and len(v) >= 4)


def scrub(text: str) -> str:
    for value in _secret_values:
        if value in text:
            text = text.replace(value, "***")
    return text


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if any(s in key.lower() for s in _SECRET_KEYS):
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = scrub(value)
    return event


def configure(level: str = "info", fmt: str = "auto") -> None:
    json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
