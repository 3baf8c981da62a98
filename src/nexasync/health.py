"""The service's HTTP endpoint: liveness, readiness and Prometheus metrics.

``/healthz`` answers while the process serves at all. ``/readyz`` answers 200 only
while every pair has synced recently: its last successful cycle (``ok``, or
``partial``: it ran and synced all but the failed records, which the metrics show)
finished within ``ready_factor`` of its intervals. ``/metrics`` is the exposition of
:data:`nexasync.metrics.REGISTRY`. Served by werkzeug in a daemon thread, quietly:
no access log (a probe every few seconds would drown the sync's own lines).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client.exposition import choose_encoder
from werkzeug.serving import (
    BaseWSGIServer,
    WSGIRequestHandler,
    make_server,
    select_address_family,
)
from werkzeug.wrappers import Request, Response

from nexasync.metrics import REGISTRY, last_successes

if TYPE_CHECKING:
    from nexasync.config import Config
    from nexasync.store.store import StateStore

__all__ = ["PATHS", "HealthServer", "PairReadiness", "Readiness", "readiness"]

PATHS = {"health": "/healthz", "ready": "/readyz", "metrics": "/metrics"}
ALLOWED = ("GET", "HEAD")

log = structlog.get_logger("nexasync.health")


@dataclass(frozen=True)
class PairReadiness:
    pair: str
    #: When the last successful cycle finished; None if there is none.
    last_success: datetime | None
    #: Seconds since then; None if there is none.
    age_seconds: float | None
    limit_seconds: float
    ok: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "age_seconds": None if self.age_seconds is None else round(self.age_seconds, 3),
            "limit_seconds": self.limit_seconds,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class Readiness:
    ready: bool
    pairs: dict[str, PairReadiness] = field(default_factory=dict)
    #: Why readiness could not be judged (e.g. the store is unreachable).
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ready": self.ready,
            "pairs": {name: p.as_dict() for name, p in self.pairs.items()},
        }
        if self.error is not None:
            out["error"] = self.error
        return out


def readiness(
    store: StateStore,
    config: Config,
    now: datetime | None = None,
    *,
    started: datetime | None = None,
) -> Readiness:
    """Whether every pair's last successful cycle finished within ``ready_factor`` of
    its intervals of ``now``. Only reads the store.

    ``started``: when the service started. Given, a pair is also ready until that
    long after the start even with no (recent) success, so a restart after an outage
    is not unready before its first cycle could possibly finish. Without it, a pair
    with no success is not ready.
    """
    now = now or datetime.now(timezone.utc)
    found = last_successes(store, [p.name for p in config.pairs])
    pairs: dict[str, PairReadiness] = {}
    for pair in config.pairs:
        limit = config.service.ready_factor * pair.interval_seconds
        last = found.get(pair.name)
        age = None if last is None else (now - last).total_seconds()
        since = [t for t in (last, started) if t is not None]
        ok = bool(since) and (now - max(since)).total_seconds() <= limit
        pairs[pair.name] = PairReadiness(pair.name, last, age, limit, ok)
    return Readiness(all(p.ok for p in pairs.values()), pairs)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("http server", level=type, message=message % args if args else message)


class HealthServer:
    """The endpoint on ``host:port`` (port 0: a free one, see :attr:`port`), served
    from a daemon thread between :meth:`start` and :meth:`stop`. The socket is bound
    on construction, so a taken port fails right away."""

    def __init__(self, host: str, port: int, readiness: Callable[[], Readiness]) -> None:
        self._readiness = readiness
        # Bound here rather than by werkzeug, which prints and exits on a taken port:
        # the service must get the OSError and say so in its own words.
        family = select_address_family(host, port)
        with socket.create_server((host, port), family=family) as sock:
            self._server: BaseWSGIServer = make_server(
                host, port, self._app, threaded=True, request_handler=_QuietHandler,
                fd=sock.fileno(),
            )
        self.host = host
        self.port: int = self._server.port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> HealthServer:
        if self._thread is None:
            self._thread = threading.Thread(
                # A short poll so stop() returns at once.
                target=lambda: self._server.serve_forever(poll_interval=0.05),
                name="nexasync-health",
                daemon=True,
            )
            self._thread.start()
            log.info("health endpoint listening", url=self.url, paths=sorted(PATHS.values()))
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the WSGI app ------------------------------------------------------------------
    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self._respond(request)
        return response(environ, start_response)  # type: ignore[no-any-return]

    def _respond(self, request: Request) -> Response:
        if request.path not in PATHS.values():
            return Response("not found\n", status=404, mimetype="text/plain")
        if request.method not in ALLOWED:
            return Response(
                "method not allowed\n", status=405, mimetype="text/plain",
                headers={"Allow": ", ".join(ALLOWED)},
            )
        if request.path == PATHS["health"]:
            return Response("ok\n", mimetype="text/plain")
        if request.path == PATHS["ready"]:
            return self._ready()
        encoder, content_type = choose_encoder(request.headers.get("Accept"))
        return Response(encoder(REGISTRY), headers={"Content-Type": content_type})

    def _ready(self) -> Response:
        try:
            state = self._readiness()
        except Exception as exc:  # unreadable state is "not ready", never a 500
            log.warning("readiness check failed", error=f"{type(exc).__name__}: {exc}")
            state = Readiness(False, error=type(exc).__name__)
        return Response(
            json.dumps(state.as_dict()) + "\n",
            status=200 if state.ready else 503,
            mimetype="application/json",
        )
