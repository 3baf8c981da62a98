"""Crash campaign: ``nexasync sync --once`` killed with SIGKILL after each of several
request counts, then run again: converged, no duplicates, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scenario_harness import Harness, nd_lead

from nexasync.sandbox import Sandbox


def _run(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nexasync",
            "--config",
            str(config),
            "--log-format",
            "json",
            "sync",
            "--once",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _seed(h: Harness) -> None:
    for i in range(12):
        h.nd.add_lead(**nd_lead(visitor_name=f"Crash Nd{i}", visitor_phone=f"+1-555-1{i:03d}"))
    for i in range(8):
        h.crm.add(name=f"Crash Crm{i}")
    # Without an email nothing can be matched after the fact: only the write-ahead
    # intents keep these from being created twice.
    for i in range(2):
        h.nd.add_lead(**nd_lead(visitor_name=f"Nomail Nd{i}", visitor_email=None))
        h.crm.add(name=f"Nomail Crm{i}", email=None)
    for i in range(3):
        email = f"both{i}@example.com"
        h.nd.add_lead(**nd_lead(visitor_name=f"Both Side{i}", visitor_email=email))
        h.crm.add(name=f"Both Side{i}", email=email)


# (crm, side killed at, request number, hold the answer after the request took effect?,
#  Salesforce external id?)
POINTS = [
    ("salesforce", "crm", 2, False, True),  # during the first query
    ("salesforce", "crm", 3, True, True),  # the upsert batch went through; its answer is lost
    ("salesforce", "crm", 3, True, False),  # the same without an external id: a plain create
    ("salesforce", "crm", 4, True, False),
    ("salesforce", "nexadesk", 1, False, True),
    ("salesforce", "nexadesk", 4, True, True),  # a NexaDesk create done, answer lost
    ("salesforce", "nexadesk", 7, True, True),
    ("salesforce", "nexadesk", 9, False, True),
    ("hubspot", "crm", 1, False, True),  # during the first search
    ("hubspot", "crm", 2, True, True),  # a batch create went through; its answer is lost
    ("hubspot", "crm", 3, True, True),  # a batch update went through; its answer is lost
    ("hubspot", "nexadesk", 4, True, True),
    ("hubspot", "nexadesk", 8, False, True),
]


@pytest.mark.parametrize(("crm_kind", "side", "at", "after", "external_id"), POINTS)
def test_sigkill_then_rerun_converges(
    tmp_path: Path, crm_kind: str, side: str, at: int, after: bool, external_id: bool
) -> None:
    with Sandbox(tmp_path / "sandbox") as box:
        overrides = {} if external_id else {"crm": {"external_id_field": None}}
        h = Harness(box, tmp_path, crm_kind, **overrides)
        _seed(h)
        config = tmp_path / "nexasync.yaml"
        data = box.config(f"sqlite:///{tmp_path / 'state.db'}", crm_kind, **overrides)
        config.write_text(yaml.safe_dump(data))
        emulator = box.crm(crm_kind) if side == "crm" else box.nexadesk
        # Concurrency 1 makes "the Nth request" the same request on every run.
        data["pairs"][0]["nexadesk"]["concurrency"] = 1
        config.write_text(yaml.safe_dump(data))
        emulator.reset_counts()
        emulator.faults.pause_at = at
        emulator.faults.pause_after = after
        proc = _run(config)
        try:
            while not emulator.faults.paused.wait(0.05):
                assert proc.poll() is None, "the sync ended before reaching that request"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
            emulator.faults.clear()
        assert proc.returncode == -signal.SIGKILL

        for _ in range(2):
            rerun = _run(config)
            _, err = rerun.communicate(timeout=120)
            assert rerun.returncode == 0, err.decode()[-3000:]
        assert len(h.nd.leads()) == 12 + 8 + 3 + 4
        assert len(h.crm.leads()) == 12 + 8 + 3 + 4
        h.assert_converged()
        h.store.close()
