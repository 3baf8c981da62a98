"""Ways in: ``--help`` of every command, the no-config demo (``make demo``) and the
``nexasync sandbox`` command a new user starts by hand."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _cli_helpers import SANDBOX_SECRETS, TIMEOUT, cli_env, run, summary_row, write_config

from nexasync.sandbox import Sandbox


@pytest.mark.parametrize("command", [["sync"], ["status"], ["explain"], ["sandbox"]])
def test_help_shows_no_secret(sandbox: Sandbox, tmp_path: Path, command: list[str]) -> None:
    # A config full of secrets is in reach; help must not echo any of it.
    config = write_config(tmp_path / "c.yaml", tmp_path / "s.db", sandbox.pair_config())
    result = run(*command, "--help", env=cli_env(NEXASYNC_CONFIG=str(config)))
    assert result.code == 0, result
    assert result.out.startswith("Usage: "), result
    assert not list(tmp_path.glob("s.db*"))
    if command == ["sync"]:
        for code, meaning in (
            (0, "every record synced"),
            (1, "some records failed"),
            (2, "the configuration is invalid; nothing was touched"),
            (3, "a pair's cycle could not run"),
        ):
            assert re.search(rf"^\s+{code}\s+{re.escape(meaning)}", result.out, re.M), result
        assert "--dry-run" in result.out and "--pair" in result.out


def test_sync_without_any_config_runs_the_sandbox_demo(tmp_path: Path) -> None:
    result = run("sync", "--once", cwd=tmp_path)
    assert "No config found: syncing the bundled sandbox" in result.err, result
    assert summary_row(result.out, "sandbox", "nexadesk->crm")["created"] > 0, result
    assert summary_row(result.out, "sandbox", "crm->nexadesk")["created"] > 0, result
    assert re.search(r"sandbox now holds \d+ NexaDesk leads and \d+ Salesforce leads", result.out)
    assert (tmp_path / "nexasync-sandbox.db").exists()
    assert result.code == 0, result


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def test_sandbox_command_serves_a_config_that_syncs(tmp_path: Path) -> None:
    folder = tmp_path / "sb"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nexasync", "sandbox", "--nexadesk-port", "0",
         "--salesforce-port", "0", "--leads", "6", "--dir", str(folder)],
        env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        seen: list[str] = []
        deadline = time.monotonic() + TIMEOUT
        while not (seen and seen[-1].startswith("Try: ")):
            remaining = deadline - time.monotonic()
            assert remaining > 0 and proc.poll() is None, "".join(seen)
            try:
                seen.append(lines.get(timeout=remaining))
            except queue.Empty:
                continue
        out = "".join(seen)
        written = re.search(r"^Config written to (.+):$", out, re.M)
        assert written, out
        config = Path(written.group(1))
        assert config == folder.resolve() / "nexasync.yaml"
        assert config.read_text().strip() in out
        assert re.search(r"^NexaDesk emulator: +http://127\.0\.0\.1:\d+$", out, re.M), out

        result = run("--config", str(config), "sync", "--once")
        assert result.code == 0, result
        for direction in ("nexadesk->crm", "crm->nexadesk"):
            row = summary_row(result.out, "sandbox", direction)
            assert row["created"] > 0 and row["failed"] == 0, result
        # The sandbox's own output shows its throw-away credentials, by design.
        assert any(secret in out for secret in SANDBOX_SECRETS)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
