"""Running real ``nexasync`` processes for the deploy tests: the ``sandbox`` command as a
container would start it, ``sync --once`` and ``run`` against what it serves."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: A process slower than this is stuck, not slow.
TIMEOUT = 60


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "NEXASYNC_CONFIG"}
    out.update(extra)
    return out


def nexasync(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nexasync", *args],
        env=env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@dataclass
class RunningSandbox:
    proc: subprocess.Popen[str]
    config: Path
    output: str


def _pump(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


@contextmanager
def sandbox_command(args: Sequence[str]) -> Iterator[RunningSandbox]:
    """``nexasync sandbox ARGS`` until it has written its config; stopped with SIGTERM
    (as a container runtime stops it), which must end it cleanly."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nexasync", "sandbox", *args],
        env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (seen and seen[-1].startswith("Try: ")):
            remaining = deadline - time.monotonic()
            assert remaining > 0 and proc.poll() is None, "".join(seen)
            try:
                seen.append(lines.get(timeout=min(remaining, 1.0)))
            except queue.Empty:
                continue
        written = next(s for s in seen if s.startswith("Config written to "))
        config = Path(written.removeprefix("Config written to ").strip().rstrip(":"))
        yield RunningSandbox(proc, config, "".join(seen))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, f"sandbox exited {proc.returncode} on SIGTERM"


def wait_for(check: object, what: str, timeout: float = TIMEOUT) -> None:
    """Call ``check()`` until it returns true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
