"""Structured logging: JSON lines off a terminal, readable lines on one, always to
stderr (stdout is for command output). Values under secret-looking keys are
redacted, and known secret values are scrubbed from every string of a line:
nested values, exception text and tracebacks included, in the encodings a
library may put them in (URL, XML, base64).
"""

from __future__ import annotations

import base64
import html
import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import quote, quote_plus

import structlog

_SECRET_KEYS = ("password", "token", "secret", "api_key", "authorization", "session_id")
_secret_values: set[str] = set()
#: Values rendered as they are; anything else is rendered as (scrubbed) text.
_PLAIN = (int, float, bool, type(None))


def _forms(value: str) -> set[str]:
    raw = value.encode()
    return {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        html.escape(value),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def register_secrets(values: Iterable[str | None]) -> None:
    """Values that must never appear in a log line (checked as substrings)."""
    for value in values:
        if value and len(value) >= 4:
            _secret_values.update(f for f in _forms(value) if len(f) >= 4)


def scrub(text: str) -> str:
    # Longest first: a value's encoded form may contain the value itself.
    for value in sorted(_secret_values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {k: "***" if _secret_key(k) else _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean(v) for v in value]
    # Exceptions, URLs, models...: their text is what a renderer would show.
    return scrub(str(value))


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and any(s in key.lower() for s in _SECRET_KEYS)


#: Bookkeeping keys of structlog's stdlib bridge: never rendered, and it needs them intact.
_META = ("_record", "_from_structlog")


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key not in _META:
            event[key] = "***" if _secret_key(key) else _clean(value)
    return event


class _Stderr:
    """Whatever ``sys.stderr`` is at the time of writing: test runners swap (and close)
    it between tests, and a logger must not keep writing to a closed one."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _route_library_logs(renderer: Any, stamp: Any) -> None:
    """Warnings of the libraries (urllib3, httpx, simple-salesforce...) go out in the
    same format, scrubbed like ours: their messages may quote a URL or a request."""
    handler = logging.StreamHandler(_Stderr())
    handler.set_name("nexasync")
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                stamp,
                structlog.processors.format_exc_info,
                _redact,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "nexasync"]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Their info and debug chatter is not the operator's business; ours is structlog's.
    root.setLevel(logging.WARNING)


def _over_progress(renderer: Any) -> Any:
    """On a terminal, start each line by clearing the line: a progress line redrawn in
    place (see :mod:`nexasync.engine.progress`) is replaced, not run into."""

    def render(logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        return "\r\x1b[K" + str(renderer(logger, name, event))

    return render


def configure(level: str = "info", fmt: str = "auto") -> None:
    json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    if not json and sys.stderr.isatty():
        renderer = _over_progress(renderer)
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    _route_library_logs(renderer, stamp)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            # Tracebacks become text first, so the scrubbing below covers them too.
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
