"""What every emulator shares: a threaded HTTP(S) server on loopback, a request
counter, and fault injection.

An emulator subclasses :class:`Emulator` and implements :meth:`Emulator.handle`;
this module runs it, counts each request by kind, and applies the faults a test
queued (latency, 429, 5xx, a write that succeeds but answers 5xx, a pause that
holds a request so a test can kill the client at an exact point).
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Fault:
    """One queued fault: applies to the next ``times`` requests that match."""

    kind: str  # "429" | "500" | "503" | "ambiguous" | "hang"
    times: int = 1
    #: Only requests whose kind (see Emulator.classify) or method starts with this.
    match: str | None = None
    retry_after: float | None = 1
    #: For "hang": held until released or this many seconds pass.
    seconds: float = 30.0


@dataclass
class Faults:
    latency: float = 0.0
    queue: list[Fault] = field(default_factory=list)
    #: Answer the request numbered ``pause_at`` (1-based, counted from reset) only once
    #: :meth:`release` is called; a test kills the client meanwhile.
    pause_at: int | None = None
    #: Hold the answer after the request was handled (its write done) instead of before.
    pause_after: bool = False
    _released: threading.Event = field(default_factory=threading.Event)
    paused: threading.Event = field(default_factory=threading.Event)

    def add(self, kind: str, times: int = 1, **kw: Any) -> None:
        self.queue.append(Fault(kind, times, **kw))

    def release(self) -> None:
        self._released.set()

    def clear(self) -> None:
        self.queue.clear()
        self.latency = 0.0
        self.pause_at = None
        self._released.set()

    def take(self, kind: str, method: str) -> Fault | None:
        for fault in self.queue:
            if fault.match and not (kind.startswith(fault.match) or method == fault.match):
                continue
            fault.times -= 1
            if fault.times <= 0:
                self.queue.remove(fault)
            return fault
        return None


class Emulator:
    """Base of the emulators: routing is the subclass's; counting and faults are here."""

    name = "emulator"

    def __init__(self) -> None:
        self.faults = Faults()
        self.counts: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._seq = 0

    # -- to implement -------------------------------------------------------------
    def classify(self, request: Request) -> str:
        """A short kind for the counter and fault matching, e.g. 'list', 'create'."""
        return f"{request.method} {request.path}"

    def is_write(self, kind: str, request: Request) -> bool:
        return request.method in ("POST", "PATCH", "PUT", "DELETE")

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def error_response(self, status: int, message: str, retry_after: float | None) -> Response:
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
        return json_response({"success": False, "error": message}, status, headers)

    # -- shared -------------------------------------------------------------------
    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self._seq = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        kind = self.classify(request)
        with self._lock:
            self.counts[kind] += 1
            self._seq += 1
            seq = self._seq
            fault = self.faults.take(kind, request.method)
        pause = self.faults.pause_at is not None and seq == self.faults.pause_at
        if pause and not self.faults.pause_after:
            self._hold()
        if self.faults.latency:
            time.sleep(self.faults.latency)
        response = self._respond(request, kind, fault)
        if pause and self.faults.pause_after:
            self._hold()  # the request took effect; its answer is held back
        return response(environ, start_response)

    def _hold(self) -> None:
        self.faults.paused.set()
        self.faults._released.wait(60)

    def _respond(self, request: Request, kind: str, fault: Fault | None) -> Response:
        if fault is not None:
            if fault.kind == "hang":
                time.sleep(fault.seconds)
            elif fault.kind == "ambiguous":
                # The write happens; the client only hears that it failed.
                with self._lock:
                    self.handle(request)
                return self.error_response(500, "internal error", None)
            else:
                status = int(fault.kind)
                retry = fault.retry_after if status == 429 else None
                return self.error_response(status, "injected fault", retry)
        with self._lock:
            return self.handle(request)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


class TestCA:
    """A throw-away certificate authority for the HTTPS emulators (simple-salesforce
    only speaks https). ``ca_bundle`` is the PEM file clients are told to trust."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, directory: Path, extra_names: tuple[str, ...] = ()) -> None:
        self._ca = trustme.CA()
        #: ``extra_names``: host names (or IPs) clients reach the servers by, e.g. a
        #: container's service name, so certificate verification passes for them too.
        names = dict.fromkeys(("127.0.0.1", "localhost", *extra_names))
        self._cert = self._ca.issue_cert(*names)
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_bundle = directory / "sandbox-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_bundle))

    def server_context(self) -> Any:
        import ssl

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(ctx)
        return ctx


class _QuietHandler(WSGIRequestHandler):
    # Keep-alive, as the real APIs serve: werkzeug closes every connection, so each
    # request paid a new connection (and TLS handshake) in the client, a cost no real
    # deployment has. Werkzeug closes because it cannot drain a body the application
    # left unread; here the body is read before the application runs, so the next
    # request line always starts where the last body ended.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: on a kept-alive connection Nagle's
    # algorithm would hold the body back for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or (length and not length.isdigit()):
            self._keep_alive = False  # a body we cannot delimit: close after it
            super().run_wsgi()
            return
        self._keep_alive = True
        wire = self.rfile
        self.rfile = io.BytesIO(wire.read(int(length or 0)))
        try:
            super().run_wsgi()
        finally:
            self.rfile = wire

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and getattr(self, "_keep_alive", False):
            return  # werkzeug's blanket "close"; the client's own close still applies
        if keyword.lower() == "date":
            # An emulator on its own clock dates its answers: its Date (sent after the
            # server's) is the only one.
            self._headers_buffer = [h for h in getattr(self, "_headers_buffer", [])
                                    if not h.lower().startswith(b"date:")]
        super().send_header(keyword, value)


#: Bind addresses that mean "every interface": no client can connect to them as such.
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def shown_host(host: str, advertise_host: str | None = None) -> str:
    """The name clients use for a server bound to ``host``: the advertised one if any,
    else the bind address (loopback when bound to every interface)."""
    return advertise_host or ("127.0.0.1" if host in _ANY_ADDRESS else host)


def url_host(host: str) -> str:
    """``host`` as it goes in a URL: IPv6 literals in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class ServerThread:
    """Serve an emulator in a daemon thread; ``port=0`` picks a free port.

    ``host`` is the bind address (loopback by default); ``advertise_host`` is the name
    put in :attr:`url`, for clients that reach the server by another name (a container's).
    """

    def __init__(
        self,
        app: Emulator,
        port: int = 0,
        ca: TestCA | None = None,
        *,
        host: str = "127.0.0.1",
        advertise_host: str | None = None,
    ) -> None:
        self.app = app
        ctx = ca.server_context() if ca else None
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, ssl_context=ctx, request_handler=_QuietHandler
        )
        self.port = self._server.server_port
        shown = url_host(shown_host(host, advertise_host))
        self.url = f"{'https' if ca else 'http'}://{shown}:{self.port}"
        self._thread = threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05),
            name=f"{app.name}-server",
            daemon=True,
        )

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.app.faults.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
