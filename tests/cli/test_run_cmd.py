"""`nexasync run` and `sync --once` as operators meet them: the pair lock between
processes, the endpoint's port, and progress on a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml
from _cli_helpers import TIMEOUT, cli_env, run, sync

from nexasync.sandbox import Sandbox
from nexasync.store.store import StateStore

HOLD = """
import sys
from nexasync.store.store import StateStore
with StateStore(sys.argv[1]).pair_lock(sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()
"""


def _config(box: Sandbox, tmp_path: Path, **service: object) -> Path:
    data = box.config(f"sqlite:///{tmp_path / 'state.db'}")
    if service:
        data["service"] = service
    path = tmp_path / "nexasync.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_sync_once_skips_a_pair_another_process_is_syncing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    config = _config(sandbox, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, f"sqlite:///{tmp_path / 'state.db'}", "sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        # (Lines before it may be the store's own log lines.)
        assert any(line.strip() == "held" for line in iter(holder.stdout.readline, ""))
        sandbox.nexadesk.reset_counts()
        result = sync(config)
        assert result.code == 4, result
        assert f"SKIPPED: pair 'sandbox' is being synced by another process (pid {holder.pid}" in (
            result.out
        )
        # Skipped means untouched: not one request to either system.
        assert sandbox.nexadesk.total == 0
    finally:
        holder.kill()
        holder.wait(TIMEOUT)
    assert sync(config).code == 0


def test_run_says_when_its_port_is_taken(sandbox: Sandbox, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _config(sandbox, tmp_path, listen=f"127.0.0.1:{port}")
        result = run("--config", str(config), "run")
    assert result.code == 3, result
    assert f"cannot listen on 127.0.0.1:{port}" in result.err
    assert "service.listen" in result.err


def test_run_without_config_says_how_to_give_one(tmp_path: Path) -> None:
    result = run("run", cwd=tmp_path)
    assert result.code == 2, result
    assert "no config" in result.err and "NEXASYNC_CONFIG" in result.err


def test_sync_on_a_terminal_shows_progress(sandbox: Sandbox, tmp_path: Path) -> None:
    for i in range(30):
        sandbox.nexadesk.add_lead(visitor_name=f"Tty {i}", visitor_email=f"tty{i}@example.com")
    # Slow enough that the sync outlasts the terminal's redraw interval.
    sandbox.nexadesk.faults.latency = 0.05
    config = _config(sandbox, tmp_path)
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nexasync", "--config", str(config), "sync", "--once"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=cli_env(),
    )
    os.close(child)
    seen = b""
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(TIMEOUT) == 0, seen.decode(errors="replace")
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
    text = seen.decode(errors="replace")
    # A first sync reads the CRM first (its NexaDesk leads are written as they come).
    assert re.search(r"\r\x1b\[Ksandbox: reading (crm|nexadesk): read nexadesk", text), text
    assert "sandbox: done: read nexadesk" in text, text
    # A log line clears the progress line first instead of running on from it.
    assert re.search(r"sandbox: [^\r\n]*\d{4}-\d\d-\d\dT", text) is None, text
    with StateStore(f"sqlite:///{tmp_path / 'state.db'}") as store:
        assert store.last_runs("sandbox")[0].status == "ok"
