"""`nexasync run` as a real process: it syncs on schedule, serves its endpoints,
stops gracefully on SIGTERM (finishing the batch in flight), exits at once on a
second signal, gives up after its stop timeout, and the next run converges."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from scenario_harness import Harness, nd_lead

from nexasync.sandbox import Sandbox

DEADLINE = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        if proc.poll() is not None:
            raise AssertionError(f"the service exited ({proc.returncode}) before {what}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.TransportError:
        return None


class Service:
    def __init__(self, box: Sandbox, tmp_path: Path, crm_kind: str, **service: Any) -> None:
        self.port = _free_port()
        data = box.config(f"sqlite:///{tmp_path / 'state.db'}", crm_kind)
        data["pairs"][0]["interval_seconds"] = 3600
        # Concurrency 1 makes "the Nth request" the same request on every run.
        data["pairs"][0]["nexadesk"]["concurrency"] = 1
        data["service"] = {
            "listen": f"127.0.0.1:{self.port}",
            "jitter_seconds": 0,
            "progress_seconds": 0.05,
            **service,
        }
        self.config = tmp_path / "nexasync.yaml"
        self.config.write_text(yaml.safe_dump(data))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nexasync", "--config", str(self.config), *args, "run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.err: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self.proc

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)

    def logged(self, event: str) -> bool:
        return any(f'"event": "{event}'.encode() in line for line in list(self.err))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def finish(self) -> tuple[int, list[dict[str, Any]]]:
        assert self.proc is not None
        self.proc.wait(timeout=DEADLINE)
        self._reader.join(timeout=DEADLINE)
        lines = [json.loads(line) for line in self.err if line.startswith(b"{")]
        return self.proc.returncode, lines

    def sync_once(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "nexasync", "--config", str(self.config), "sync", "--once"],
            capture_output=True,
            timeout=DEADLINE * 2,
        )
        assert done.returncode == 0, done.stderr.decode()[-3000:]


@pytest.fixture
def service_box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sandbox") as box:
        yield box


def _events(lines: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == event]


def test_service_syncs_serves_and_stops_cleanly(
    service_box: Sandbox, tmp_path: Path, crm_kind: str
) -> None:
    h = Harness(service_box, tmp_path, crm_kind)
    for i in range(5):
        h.nd.add_lead(**nd_lead(visitor_name=f"Svc Nd{i}"))
    for i in range(3):
        h.crm.add(name=f"Svc Crm{i}")
    svc = Service(service_box, tmp_path, crm_kind)
    proc = svc.start("--log-format", "json")
    try:
        _until(lambda: _status(svc.url("/healthz")) == 200, "/healthz", proc)
        _until(lambda: _status(svc.url("/readyz")) == 200, "a successful cycle", proc)
        metrics = httpx.get(svc.url("/metrics")).text
        assert 'nexasync_cycles_total{pair="sandbox",status="ok"} 1.0' in metrics
        h.assert_converged()
        assert len(h.nd.leads()) == len(h.crm.leads()) == 8
        svc.signal(signal.SIGTERM)
        code, lines = svc.finish()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0
    assert _events(lines, "service stopped")
    assert _events(lines, "run finished")[0]["status"] == "ok"
    # Every line of the cycle carries its pair and run id.
    pulled = _events(lines, "pulled")
    assert pulled and all(line["pair"] == "sandbox" and line["run_id"] for line in pulled)
    h.store.close()


def _seed_many(h: Harness, n: int) -> None:
    for i in range(n):
        h.nd.add_lead(**nd_lead(visitor_name=f"Bulk Nd{i}", visitor_email=f"bulk{i}@example.com"))


#: The CRM's first write batch on a first sync into an empty CRM: after the login
#: (Salesforce) and the one read.
FIRST_WRITE = {"salesforce": 3, "hubspot": 2}
WRITE_KIND = {"salesforce": "collections_upsert", "hubspot": "batch_create"}


def _pause_first_crm_write(box: Sandbox, kind: str, *, after: bool) -> None:
    crm = box.crm(kind)
    crm.reset_counts()
    crm.faults.pause_at = FIRST_WRITE[kind]
    crm.faults.pause_after = after


@pytest.mark.parametrize("crm_kind", ["salesforce", "hubspot"])
def test_sigterm_mid_cycle_finishes_the_batch_in_flight(
    service_box: Sandbox, tmp_path: Path, crm_kind: str
) -> None:
    h = Harness(service_box, tmp_path, crm_kind)
    batch = h.connectors["crm"].write_batch_size
    _seed_many(h, batch * 2 + 10)
    svc = Service(service_box, tmp_path, crm_kind)
    crm = service_box.crm(crm_kind)
    _pause_first_crm_write(service_box, crm_kind, after=True)
    proc = svc.start("--log-format", "json")
    try:
        _until(lambda: crm.faults.paused.is_set(), "the first write batch", proc)
        assert crm.counts[WRITE_KIND[crm_kind]] == 1
        # The first batch is written on the CRM; its answer is held until released.
        assert len(h.crm.leads()) == batch
        svc.signal(signal.SIGTERM)
        _until(lambda: svc.logged("stopping"), "the stop to be taken", proc)
        crm.faults.clear()
        code, lines = svc.finish()
    finally:
        crm.faults.clear()
        if proc.poll() is None:
            proc.kill()
    assert code == 0, lines[-5:]
    # The batch in flight finished and was recorded; no further batch was sent.
    assert len(h.crm.leads()) == batch
    runs = h.store.last_runs("sandbox")
    assert runs[0].status == "interrupted"
    assert h.store.link_count("sandbox") == batch
    assert h.store.open_intents("sandbox") == []
    assert h.store.get_cursor("sandbox", "nexadesk") is None
    # Off a terminal, a long cycle logs its progress.
    assert _events(lines, "progress")
    svc.sync_once()
    assert len(h.crm.leads()) == len(h.nd.leads()) == batch * 2 + 10
    h.assert_converged()
    h.store.close()


def test_second_signal_exits_at_once_and_the_next_run_recovers(
    service_box: Sandbox, tmp_path: Path
) -> None:
    h = Harness(service_box, tmp_path, "salesforce")
    _seed_many(h, 30)
    svc = Service(service_box, tmp_path, "salesforce")
    crm = service_box.salesforce
    # The batch's answer never comes while we wait: the first stop cannot complete.
    _pause_first_crm_write(service_box, "salesforce", after=True)
    proc = svc.start("--log-format", "json")
    try:
        _until(lambda: crm.faults.paused.is_set(), "the first write batch", proc)
        svc.signal(signal.SIGTERM)
        _until(lambda: svc.logged("stopping"), "the stop to be taken", proc)
        svc.signal(signal.SIGINT)
        code, lines = svc.finish()
    finally:
        crm.faults.clear()
        if proc.poll() is None:
            proc.kill()
    assert code == 128 + signal.SIGINT
    assert _events(lines, "second signal: exiting now; the next start recovers")
    # The batch went through with its answer lost: recovery links it, no duplicates.
    svc.sync_once()
    assert len(h.crm.leads()) == len(h.nd.leads()) == 30
    h.assert_converged()
    h.store.close()


def test_stop_timeout_bounds_the_wait(service_box: Sandbox, tmp_path: Path) -> None:
    h = Harness(service_box, tmp_path, "salesforce")
    _seed_many(h, 5)
    svc = Service(service_box, tmp_path, "salesforce", stop_timeout_seconds=0.5)
    crm = service_box.salesforce
    _pause_first_crm_write(service_box, "salesforce", after=False)
    proc = svc.start("--log-format", "json")
    try:
        _until(lambda: crm.faults.paused.is_set(), "the first write batch", proc)
        svc.signal(signal.SIGTERM)
        code, lines = svc.finish()
    finally:
        crm.faults.clear()
        if proc.poll() is None:
            proc.kill()
    assert code == 1
    stuck = _events(
        lines, "stop timed out; exiting with cycles still running (the next start recovers)"
    )
    assert stuck and stuck[0]["pairs"] == ["sandbox"]
    svc.sync_once()
    assert len(h.crm.leads()) == 5
    h.assert_converged()
    h.store.close()
